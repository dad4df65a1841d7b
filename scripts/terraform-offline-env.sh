# Sourced by the checks: points Terraform at a filesystem mirror of its providers, since no
# provider registry is reachable where the tests run. TF_PLUGIN_MIRROR names the mirror (the
# folder holding registry.terraform.io/); without it, the usual plugin folders are searched,
# then the whole filesystem. Exports TF_CLI_CONFIG_FILE, or leaves the environment as it was
# (and says so) when no mirror is found: an online machine then uses the registry.
# shellcheck shell=bash

mmp_find_tf_mirror() {
  local binary root
  for root in "${HOME:-/nonexistent}/.terraform.d/plugins" "${HOME:-/nonexistent}/.local/share/terraform/plugins" \
    /usr/local/share/terraform/plugins /usr/share/terraform/plugins /opt /usr/local /; do
    [ -d "$root" ] || continue
    binary=$(find "$root" -xdev \( -path /proc -o -path /sys \) -prune -o -type f \
      -path '*/registry.terraform.io/hashicorp/aws/*/terraform-provider-aws_*' -print -quit 2>/dev/null)
    if [ -n "$binary" ]; then
      # <mirror>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/<binary>
      echo "${binary%/registry.terraform.io/hashicorp/aws/*}"
      return 0
    fi
  done
  return 1
}

# A TF_CLI_CONFIG_FILE naming a file that does not exist counts as unset.
if [ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  mmp_tf_mirror=${TF_PLUGIN_MIRROR:-$(mmp_find_tf_mirror || true)}
  if [ -n "$mmp_tf_mirror" ]; then
    TF_CLI_CONFIG_FILE=$(mktemp "${TMPDIR:-/tmp}/mmp-terraformrc.XXXXXX")
    cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mmp_tf_mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
    export TF_CLI_CONFIG_FILE
    echo "terraform: providers from the mirror at $mmp_tf_mirror" >&2
  else
    echo "terraform: no provider mirror found (set TF_PLUGIN_MIRROR); using the registry" >&2
  fi
  unset mmp_tf_mirror
fi
# No telemetry or update checks from the tests.
export CHECKPOINT_DISABLE=1
