# One multi-model endpoint serves every dataset's deployed model: the model deployer copies
# artifacts into endpoint/models/ and InvokeEndpoint's TargetModel names one of them.

locals {
  endpoint_name = "${var.project_name}-endpoint"
  variant_name  = "AllTraffic"
}

resource "aws_sagemaker_model" "multi_model" {
  # No name: a new image makes a new model (and endpoint configuration) before the old is removed.
  execution_role_arn = aws_iam_role.sagemaker_endpoint.arn
  # The serving container makes no network calls: SageMaker itself fetches the artifacts it
  # is asked to load from the multi-model prefix.
  enable_network_isolation = true

  primary_container {
    image          = local.image_uri
    mode           = "MultiModel"
    model_data_url = local.multi_model_uri
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [aws_iam_role_policy.sagemaker_endpoint]
}

resource "aws_sagemaker_endpoint_configuration" "multi_model" {
  #checkov:skip=CKV_AWS_98:No KMS key for the instance storage volume: SageMaker encrypts it with an AWS managed key already, and a CMK costs at idle.
  name_prefix = "${var.project_name}-"

  production_variants {
    variant_name           = local.variant_name
    model_name             = aws_sagemaker_model.multi_model.name
    instance_type          = var.inference_instance_type
    initial_instance_count = var.min_endpoint_instances
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "multi_model" {
  name                 = local.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.multi_model.name
}

# --- Autoscaling: instances follow the invocation rate and the CPU load ---

resource "aws_appautoscaling_target" "endpoint" {
  count = var.endpoint_autoscaling ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.multi_model.name}/variant/${local.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.min_endpoint_instances
  max_capacity       = var.max_endpoint_instances

  lifecycle {
    # SageMaker refuses to switch an autoscaled variant to a new configuration: the target is
    # deregistered and registered again around the switch.
    replace_triggered_by = [aws_sagemaker_endpoint_configuration.multi_model.id]
  }
}

resource "aws_appautoscaling_policy" "invocations" {
  count = var.endpoint_autoscaling ? 1 : 0

  name               = "${var.project_name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.endpoint[0].service_namespace
  resource_id        = aws_appautoscaling_target.endpoint[0].resource_id
  scalable_dimension = aws_appautoscaling_target.endpoint[0].scalable_dimension

  lifecycle {
    # Deregistering the target (on every endpoint configuration switch) deletes its policies:
    # they are created again with it.
    replace_triggered_by = [aws_appautoscaling_target.endpoint]
  }

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_invocations_per_instance
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  count = var.endpoint_autoscaling ? 1 : 0

  name               = "${var.project_name}-cpu-utilization"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.endpoint[0].service_namespace
  resource_id        = aws_appautoscaling_target.endpoint[0].resource_id
  scalable_dimension = aws_appautoscaling_target.endpoint[0].scalable_dimension

  lifecycle {
    # As above: replaced together with the scalable target.
    replace_triggered_by = [aws_appautoscaling_target.endpoint]
  }

  target_tracking_scaling_policy_configuration {
    target_value       = var.target_cpu_utilization
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metric_name = "CPUUtilization"
      namespace   = "/aws/sagemaker/Endpoints"
      statistic   = "Average"

      dimensions {
        name  = "EndpointName"
        value = aws_sagemaker_endpoint.multi_model.name
      }

      dimensions {
        name  = "VariantName"
        value = local.variant_name
      }
    }
  }
}
