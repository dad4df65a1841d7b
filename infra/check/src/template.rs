//! Terraform template files (`templatefile`): which variables they interpolate.

/// The names interpolated as `${name}` in a template, sorted and without repeats. Only plain
/// names are accepted: anything else inside `${...}`, or a `%{` directive, is returned as an
/// error naming it, because the file would need Terraform to be read.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    if let Some(at) = template.find("%{") {
        return Err(format!("template directive at byte {at}"));
    }
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${ interpolation".to_owned())?;
        let name = &after[..end];
        let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(format!(
                "interpolation ${{{name}}} is not a plain variable name"
            ));
        }
        names.push(name.to_owned());
        rest = &after[end + 1..];
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// Fills each `${name}` with its value (what `templatefile` does for plain names).
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_owned(), |acc, (name, value)| {
        acc.replace(&format!("${{{name}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_placeholders() {
        assert_eq!(
            placeholders(r#"{"a": "${image_uri}", "b": "s3://${bucket}/${bucket}/x"}"#),
            Ok(vec!["bucket".to_owned(), "image_uri".to_owned()])
        );
        assert_eq!(placeholders("no placeholders"), Ok(vec![]));
    }

    #[test]
    fn refuses_what_terraform_alone_could_render() {
        assert!(placeholders("${upper(x)}").is_err());
        assert!(placeholders("%{ if x }y%{ endif }").is_err());
        assert!(placeholders("${unterminated").is_err());
    }

    #[test]
    fn renders_like_templatefile() {
        assert_eq!(
            render("s3://${bucket}/${key}", &[("bucket", "b"), ("key", "k")]),
            "s3://b/k"
        );
    }
}
