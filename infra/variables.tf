variable "project_name" {
  description = "Name of the SageMaker pipeline and prefix of every resource; model package groups are named <project_name>-<dataset>."
  type        = string
  default     = "mmp"

  validation {
    # Lower case because S3 bucket names and SageMaker ARNs are; short because the longest
    # derived name (<project_name>-metrics-reporter-dlq and the bucket name) must stay within limits.
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-24 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "aws_region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as us-east-1."
  }
}

variable "tags" {
  description = "Tags added to every resource (a `project` tag is always added)."
  type        = map(string)
  default     = {}
}

# --- Container image ---

variable "build_image" {
  description = "Build and push the container image during apply (needs docker and the AWS CLI). When false, run scripts/build-and-push-image.sh with the same tag first."
  type        = bool
  default     = true
}

variable "image_tag" {
  description = "Tag of the container image. Null derives it from a hash of the sources the image is built from, so a source change builds and deploys a new image."
  type        = string
  default     = null

  validation {
    condition     = var.image_tag == null || can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag (letters, digits, '_', '.', '-'; at most 128 characters)."
  }
}

variable "image_platform" {
  description = "Platform the container image is built for; SageMaker training, processing and the endpoint instance types used here are x86_64."
  type        = string
  default     = "linux/amd64"

  validation {
    condition     = contains(["linux/amd64", "linux/arm64"], var.image_platform)
    error_message = "image_platform must be linux/amd64 or linux/arm64."
  }
}

variable "ecr_images_to_keep" {
  description = "How many images the ECR lifecycle policy keeps; older ones are expired."
  type        = number
  default     = 10

  validation {
    condition     = var.ecr_images_to_keep >= 1 && var.ecr_images_to_keep <= 1000
    error_message = "ecr_images_to_keep must be between 1 and 1000."
  }
}

# --- Storage ---

variable "job_scratch_expiration_days" {
  description = "Days after which job inputs and outputs under pipelines/ are deleted. Registered model versions keep pointing at their artifact there, so a version older than this can no longer be deployed; 0 keeps them forever."
  type        = number
  default     = 180

  validation {
    condition     = var.job_scratch_expiration_days >= 0 && floor(var.job_scratch_expiration_days) == var.job_scratch_expiration_days
    error_message = "job_scratch_expiration_days must be a whole number >= 0."
  }
}

variable "pinned_dataset_expiration_days" {
  description = "Days after which the pipeline trigger's pinned copies of uploads (pinned-datasets/, what each execution reads and each model version names as input_data_uri) are deleted; 0 keeps them forever. Keep it at least as long as job_scratch_expiration_days so a deployable version's input stays readable."
  type        = number
  default     = 180

  validation {
    condition     = var.pinned_dataset_expiration_days >= 0 && floor(var.pinned_dataset_expiration_days) == var.pinned_dataset_expiration_days
    error_message = "pinned_dataset_expiration_days must be a whole number >= 0."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (the bucket is versioned) before it is removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number >= 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket and the image repository with everything in them (datasets, models, reports, images)."
  type        = bool
  default     = false
}

# --- Endpoint ---

variable "inference_instance_type" {
  description = "Instance type of the multi-model endpoint."
  type        = string
  default     = "ml.t2.medium"

  validation {
    condition     = startswith(var.inference_instance_type, "ml.")
    error_message = "inference_instance_type must be a SageMaker instance type (ml.*)."
  }
}

variable "min_endpoint_instances" {
  description = "Fewest endpoint instances (the autoscaling floor, also the initial count)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_endpoint_instances >= 1 && floor(var.min_endpoint_instances) == var.min_endpoint_instances
    error_message = "min_endpoint_instances must be a whole number >= 1."
  }
}

variable "max_endpoint_instances" {
  description = "Most endpoint instances autoscaling may run."
  type        = number
  default     = 2

  validation {
    condition     = var.max_endpoint_instances >= var.min_endpoint_instances && floor(var.max_endpoint_instances) == var.max_endpoint_instances
    error_message = "max_endpoint_instances must be a whole number >= min_endpoint_instances."
  }
}

variable "endpoint_autoscaling" {
  description = "Scale the endpoint's instances between min_endpoint_instances and max_endpoint_instances by load. Off, the endpoint keeps min_endpoint_instances (also how the offline apply against an AWS emulator runs, which lacks application-autoscaling's tag API)."
  type        = bool
  default     = true
}

variable "target_invocations_per_instance" {
  description = "Autoscaling target: average invocations per instance per minute."
  type        = number
  default     = 1000

  validation {
    condition     = var.target_invocations_per_instance > 0
    error_message = "target_invocations_per_instance must be positive."
  }
}

variable "target_cpu_utilization" {
  description = "Autoscaling target: average CPU utilization of the variant in percent (SageMaker reports up to 100 x vCPUs)."
  type        = number
  default     = 85

  validation {
    condition     = var.target_cpu_utilization > 0
    error_message = "target_cpu_utilization must be positive."
  }
}

# --- Functions ---

variable "lambda_zip_dir" {
  description = "Folder holding <function>/bootstrap.zip for each function (scripts/build-functions.sh writes them). Null means target/lambda of this repository."
  type        = string
  default     = null
}

variable "invoker_reserved_concurrency" {
  description = "Concurrent executions reserved for the prediction function (also its ceiling, which caps what callers can spend on the endpoint). Null leaves it unreserved: accounts start with 10 concurrent executions, and AWS refuses a reservation that leaves fewer than 10 unreserved."
  type        = number
  default     = null

  validation {
    condition     = var.invoker_reserved_concurrency == null || try(var.invoker_reserved_concurrency >= 1 && floor(var.invoker_reserved_concurrency) == var.invoker_reserved_concurrency, false)
    error_message = "invoker_reserved_concurrency must be null (unreserved) or a whole number >= 1."
  }
}

variable "function_url_auth_type" {
  description = "Authorization of the prediction Function URL: AWS_IAM (callers sign with SigV4 and need the invoke policy from the outputs) or NONE (anyone on the internet may call it)."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "NONE"], var.function_url_auth_type)
    error_message = "function_url_auth_type must be AWS_IAM or NONE."
  }
}

variable "cors_allow_origins" {
  description = "Origins browsers may call the Function URL from."
  type        = list(string)
  default     = ["*"]
}

variable "function_memory_mb" {
  description = "Memory of each Lambda function in MB (also sets its CPU share)."
  type        = number
  default     = 256

  validation {
    condition     = var.function_memory_mb >= 128 && var.function_memory_mb <= 10240
    error_message = "function_memory_mb must be between 128 and 10240."
  }
}

variable "function_timeout_seconds" {
  description = "Timeout of each Lambda function in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 1 && var.function_timeout_seconds <= 900
    error_message = "function_timeout_seconds must be between 1 and 900."
  }
}

variable "trigger_claim_timeout_seconds" {
  description = "How long the pipeline trigger's claim on an upload holds before a retried event may take it over (the claim is what makes duplicate upload events start one execution)."
  type        = number
  default     = 120

  validation {
    condition     = var.trigger_claim_timeout_seconds >= 10 && var.trigger_claim_timeout_seconds <= 3600
    error_message = "trigger_claim_timeout_seconds must be between 10 and 3600."
  }
}

variable "invoker_route_cache_ttl_seconds" {
  description = "How long the prediction function keeps the routing table before reading it again: a deployment reaches callers within this time."
  type        = number
  default     = 5

  validation {
    condition     = var.invoker_route_cache_ttl_seconds >= 0 && var.invoker_route_cache_ttl_seconds <= 300
    error_message = "invoker_route_cache_ttl_seconds must be between 0 and 300."
  }
}

variable "invoker_max_request_bytes" {
  description = "Largest prediction request body accepted; larger ones get 413 (Function URLs and InvokeEndpoint both stop at 6 MB)."
  type        = number
  default     = 5242880

  validation {
    condition     = var.invoker_max_request_bytes >= 1024 && var.invoker_max_request_bytes <= 6291456
    error_message = "invoker_max_request_bytes must be between 1024 and 6291456."
  }
}

variable "function_log_level" {
  description = "RUST_LOG filter of the functions (tracing's EnvFilter syntax)."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the functions' and jobs' logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

# --- Events ---

variable "event_max_retry_attempts" {
  description = "How often EventBridge retries delivering an event to the deployer or reporter before sending it to the dead-letter queue."
  type        = number
  default     = 8

  validation {
    condition     = var.event_max_retry_attempts >= 0 && var.event_max_retry_attempts <= 185
    error_message = "event_max_retry_attempts must be between 0 and 185."
  }
}

variable "event_max_age_seconds" {
  description = "Oldest event EventBridge still delivers to the deployer or reporter."
  type        = number
  default     = 3600

  validation {
    condition     = var.event_max_age_seconds >= 60 && var.event_max_age_seconds <= 86400
    error_message = "event_max_age_seconds must be between 60 and 86400."
  }
}

variable "dead_letter_retention_seconds" {
  description = "How long undeliverable events and failed invocations stay in the dead-letter queue."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600
    error_message = "dead_letter_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

# --- Monitoring ---

variable "alarm_topic_arn" {
  description = "SNS topic the CloudWatch alarms notify (on alarm and on recovery). Null creates the alarms without actions: they still show in the console and on the dashboard."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be null or an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<topic>)."
  }
}

variable "alarm_period_seconds" {
  description = "Period over which each alarm evaluates its metric."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarm_period_seconds)
    error_message = "alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

variable "endpoint_latency_alarm_ms" {
  description = "The endpoint's p99 ModelLatency (time the model container takes to answer) above which the latency alarm fires, in milliseconds."
  type        = number
  default     = 2000

  validation {
    condition     = var.endpoint_latency_alarm_ms >= 1 && var.endpoint_latency_alarm_ms <= 60000
    error_message = "endpoint_latency_alarm_ms must be between 1 and 60000 (InvokeEndpoint times out after 60 s)."
  }
}
