# The Lambda functions as Terraform renders them, against what the code declares
# (var.code_contract_file: `cargo run -q -p mmp-infra-check --bin code-contract` writes it).
mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  build_image    = false
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "environment_names_are_the_crates_env_vars" {
  command = apply

  assert {
    condition     = toset(keys(aws_lambda_function.function)) == toset(keys(jsondecode(file(var.code_contract_file)).functions))
    error_message = "Terraform deploys other functions than the code contract lists."
  }

  # Names starting with AWS_ or LAMBDA_ are the Lambda runtime's own (setting them is refused);
  # every other name the crate reads must be set, and nothing else.
  assert {
    condition = alltrue([
      for name, function in aws_lambda_function.function :
      toset(keys(function.environment[0].variables)) == toset([
        for variable in jsondecode(file(var.code_contract_file)).functions[name].env_vars : variable
        if !startswith(variable, "AWS_") && !startswith(variable, "LAMBDA_")
      ])
    ])
    error_message = "A function's environment names differ from its crate's ENV_VARS: ${jsonencode({ for name, function in aws_lambda_function.function : name => sort(keys(function.environment[0].variables)) })}"
  }

  assert {
    condition = alltrue(flatten([
      for function in aws_lambda_function.function : [
        for variable in keys(function.environment[0].variables) : !startswith(variable, "AWS_") && !startswith(variable, "LAMBDA_")
      ]
    ]))
    error_message = "Terraform must not set the Lambda runtime's reserved variables."
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.function : function.environment[0].variables["MMP_S3_FORCE_PATH_STYLE"] == "false"])
    error_message = "Path-style S3 addressing is for emulators only."
  }

  assert {
    condition = alltrue([
      for name, function in aws_lambda_function.function :
      function.environment[0].variables["MMP_PIPELINE_NAME"] == "mmp" if contains(keys(function.environment[0].variables), "MMP_PIPELINE_NAME")
    ])
    error_message = "The functions must be told the pipeline's name."
  }
}

run "concurrency_unreserved_by_default" {
  command = apply

  assert {
    condition     = alltrue([for function in aws_lambda_function.function : function.reserved_concurrent_executions == -1])
    error_message = "By default no function reserves concurrency (new accounts would refuse the apply)."
  }
}

run "invoker_concurrency_reserved_on_request" {
  command = apply

  variables {
    invoker_reserved_concurrency = 20
  }

  assert {
    condition     = aws_lambda_function.function["endpoint-invoker"].reserved_concurrent_executions == 20
    error_message = "invoker_reserved_concurrency must reach the invoker."
  }

  assert {
    condition     = alltrue([for name, function in aws_lambda_function.function : function.reserved_concurrent_executions == -1 if name != "endpoint-invoker"])
    error_message = "Only the invoker reserves concurrency."
  }
}

run "iam_url_has_no_public_grants" {
  command = apply

  assert {
    condition     = aws_lambda_function_url.invoker.authorization_type == "AWS_IAM"
    error_message = "The Function URL defaults to AWS_IAM."
  }

  assert {
    condition     = length(aws_lambda_permission.invoker_public_url) == 0 && length(terraform_data.invoker_public_invoke) == 0
    error_message = "With AWS_IAM, nothing may grant the public access to the invoker."
  }
}

# Plan only: an apply would run the AWS CLI that adds the second grant.
run "public_url_gets_both_grants" {
  command = plan

  variables {
    function_url_auth_type = "NONE"
  }

  assert {
    condition = (
      length(aws_lambda_permission.invoker_public_url) == 1 &&
      aws_lambda_permission.invoker_public_url[0].action == "lambda:InvokeFunctionUrl" &&
      aws_lambda_permission.invoker_public_url[0].principal == "*" &&
      aws_lambda_permission.invoker_public_url[0].function_url_auth_type == "NONE" &&
      aws_lambda_permission.invoker_public_url[0].function_name == aws_lambda_function.function["endpoint-invoker"].function_name
    )
    error_message = "A public URL needs lambda:InvokeFunctionUrl for everyone, limited to auth type NONE."
  }

  assert {
    condition = (
      length(terraform_data.invoker_public_invoke) == 1 &&
      terraform_data.invoker_public_invoke[0].input.function_name == aws_lambda_function.function["endpoint-invoker"].function_name &&
      terraform_data.invoker_public_invoke[0].input.statement_id == "AllowPublicInvokeViaFunctionUrl" &&
      terraform_data.invoker_public_invoke[0].input.region == "us-east-1"
    )
    error_message = "A public URL needs the lambda:InvokeFunction grant (via the Function URL only) on the invoker."
  }
}
