//! Reading HCL expressions as data: literals, object keys, template text, function calls.

use hcl::{Expression, ObjectKey, TemplateExpr, TraversalOperator};

/// The string a literal or a template stands for, as written (interpolations kept as `${...}`).
pub fn text(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        Expression::TemplateExpr(t) => Some(match t.as_ref() {
            TemplateExpr::QuotedString(s) => s,
            TemplateExpr::Heredoc(h) => &h.template,
        }),
        _ => None,
    }
}

/// The strings of an array of literals or templates; `None` if anything else is in it.
pub fn text_list(expr: &Expression) -> Option<Vec<String>> {
    match expr {
        Expression::Array(items) => items.iter().map(|e| text(e).map(str::to_owned)).collect(),
        _ => None,
    }
}

/// The items of an array, each as its text if it is a literal or template, else as its HCL
/// source (`aws_x.y.arn`); `None` if the expression is not an array.
pub fn text_or_source_list(expr: &Expression) -> Option<Vec<String>> {
    match expr {
        Expression::Array(items) => Some(
            items
                .iter()
                .map(|e| text(e).map_or_else(|| source(e), str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// The keys of an object constructor, in order.
pub fn object_keys(expr: &Expression) -> Option<Vec<String>> {
    match expr {
        Expression::Object(object) => Some(object.keys().map(key_text).collect()),
        _ => None,
    }
}

/// The value under `key` in an object constructor.
pub fn object_get<'a>(expr: &'a Expression, key: &str) -> Option<&'a Expression> {
    match expr {
        Expression::Object(object) => object
            .iter()
            .find(|(k, _)| key_text(k) == key)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A call of the function `name` (e.g. `templatefile`) and its arguments.
pub fn call<'a>(expr: &'a Expression, name: &str) -> Option<&'a [Expression]> {
    match expr {
        Expression::FuncCall(f) if !f.name.is_namespaced() && f.name.name.as_str() == name => {
            Some(&f.args)
        }
        _ => None,
    }
}

/// A traversal as its path of names: `each.value.environment` → `["each", "value",
/// "environment"]`, `aws_x.y["k"].arn` → `["aws_x", "y", "k", "arn"]`. `None` for splats and
/// computed indexes.
pub fn traversal_path(expr: &Expression) -> Option<Vec<String>> {
    match expr {
        Expression::Variable(v) => Some(vec![v.as_str().to_owned()]),
        Expression::Traversal(t) => {
            let mut path = traversal_path(&t.expr)?;
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(id) => path.push(id.as_str().to_owned()),
                    TraversalOperator::Index(index) => path.push(text(index)?.to_owned()),
                    TraversalOperator::LegacyIndex(i) => path.push(i.to_string()),
                    _ => return None,
                }
            }
            Some(path)
        }
        _ => None,
    }
}

/// The expression as HCL source, for messages and for matching on what it refers to.
pub fn source(expr: &Expression) -> String {
    expr.to_string()
}

fn key_text(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(id) => id.as_str().to_owned(),
        ObjectKey::Expression(e) => text(e).map_or_else(|| source(e), str::to_owned),
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(src: &str) -> Expression {
        let body = hcl::parse(&format!("x = {src}\n")).unwrap();
        let attr = body.attributes().next().unwrap();
        attr.expr().clone()
    }

    #[test]
    fn reads_literals_templates_and_lists() {
        assert_eq!(text(&attr("\"plain\"")), Some("plain"));
        assert_eq!(
            text(&attr("\"${local.a}/datasets/*\"")),
            Some("${local.a}/datasets/*")
        );
        assert_eq!(
            text_list(&attr("[\"s3:GetObject\", \"${local.x}\"]")),
            Some(vec!["s3:GetObject".to_owned(), "${local.x}".to_owned()])
        );
        assert_eq!(text_list(&attr("[local.x]")), None);
        assert_eq!(text(&attr("local.x")), None);
    }

    #[test]
    fn reads_objects_quoted_or_not() {
        let obj = attr("{ A = 1, \"b-c\" = local.x }");
        assert_eq!(
            object_keys(&obj),
            Some(vec!["A".to_owned(), "b-c".to_owned()])
        );
        assert_eq!(
            object_get(&obj, "b-c").and_then(traversal_path),
            Some(vec!["local".to_owned(), "x".to_owned()])
        );
        assert!(object_get(&obj, "missing").is_none());
    }

    #[test]
    fn reads_calls_and_traversals() {
        let e = attr("templatefile(\"${path.module}/p.json\", local.vars)");
        let args = call(&e, "templatefile").unwrap();
        assert_eq!(text(&args[0]), Some("${path.module}/p.json"));
        assert!(call(&e, "file").is_none());
        assert_eq!(
            traversal_path(&attr(
                "aws_lambda_function.function[\"model-deployer\"].arn"
            )),
            Some(
                ["aws_lambda_function", "function", "model-deployer", "arn"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
        assert_eq!(traversal_path(&attr("aws_x.y[*].arn")), None);
    }
}
