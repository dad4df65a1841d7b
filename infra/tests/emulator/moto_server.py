#!/usr/bin/env python3
"""moto's server, plus the two calls the deployed system makes that moto lacks: SageMaker's
ListPipelineExecutionSteps (the metrics reporter's and `mmp --target aws executions`') and
ListTrainingJobsForHyperParameterTuningJob (`mmp --target aws executions ID`'s trials).

moto marks every pipeline execution Succeeded the moment it starts, so each step of the
execution's definition is listed as Succeeded, with the execution's times. No step carries
RegisterModel metadata: nothing was registered. A Tuning step carries TuningJob metadata naming
a tuning job; moto runs none, so that job's trials are made up from the step's arguments: one
Completed trial per training job definition, in order, tuned to each range's first value, with
the objective 0.5 + 0.04 * (its place). That is enough for a caller's reading of the trials to
be checked. An unknown execution or tuning job is refused as moto refuses
DescribePipelineExecution. One answer of moto's is corrected: ListPipelineExecutions gives an
execution without a failure reason the reason "None" (Python's str(None)), which SageMaker
leaves out. Everything else is moto's.

    python3 moto_server.py -H 127.0.0.1 -p PORT [-c CERT -k KEY]   (moto_server's arguments)
"""

import hashlib
import json

from moto.core.responses import ActionResult
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main


# The tuning jobs the listed steps named: name -> (execution ARN, step).
TUNING_JOBS = {}


def tuning_job_name(execution_arn, step_name):
    """A name as SageMaker Pipelines gives a step's tuning job (at most 32 characters)."""
    return "mmp-" + hashlib.sha256(f"{execution_arn}/{step_name}".encode()).hexdigest()[:24]


def list_pipeline_execution_steps(self):
    arn = self._get_param("PipelineExecutionArn")
    backend = self.sagemaker_backend
    execution = backend.describe_pipeline_execution(arn)
    definition = json.loads(backend.describe_pipeline_definition_for_execution(arn)["PipelineDefinition"])
    steps = []
    for step in definition.get("Steps", []):
        listed = {
            "StepName": step["Name"],
            "StepStatus": execution["PipelineExecutionStatus"],
            "StartTime": execution["CreationTime"],
            "EndTime": execution["LastModifiedTime"],
        }
        if step.get("Type") == "Tuning":
            name = tuning_job_name(arn, step["Name"])
            TUNING_JOBS[name] = (execution, step)
            account, region = arn.split(":")[4], arn.split(":")[3]
            listed["Metadata"] = {"TuningJob": {
                "Arn": f"arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{name}"}}
        steps.append(listed)
    # SageMaker lists the most recent step first.
    return ActionResult({"PipelineExecutionSteps": list(reversed(steps))})


def first_values(ranges):
    """Each range's first value, as a trial's TunedHyperParameters holds them (strings)."""
    tuned = {}
    for r in ranges.get("CategoricalParameterRanges", []):
        tuned[r["Name"]] = str(r["Values"][0])
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for r in ranges.get(kind, []):
            tuned[r["Name"]] = str(r["MinValue"])
    return tuned


def list_training_jobs_for_hyper_parameter_tuning_job(self):
    name = self._get_param("HyperParameterTuningJobName")
    if name not in TUNING_JOBS:
        from moto.sagemaker.exceptions import ValidationError
        raise ValidationError(message=f"Could not find tuning job '{name}'")
    execution, step = TUNING_JOBS[name]
    arguments = step.get("Arguments", {})
    metric = arguments.get("HyperParameterTuningJobConfig", {}).get("HyperParameterTuningJobObjective", {})
    trials = []
    for place, definition in enumerate(arguments.get("TrainingJobDefinitions", [])):
        trials.append({
            "TrainingJobName": f"{name[:20]}-{place + 1:03d}-{hashlib.sha256(name.encode()).hexdigest()[:6]}",
            "TrainingJobArn": f"arn:aws:sagemaker:::training-job/{name}-{place + 1:03d}",
            "TuningJobName": name,
            "TrainingJobDefinitionName": definition.get("DefinitionName"),
            "CreationTime": execution["CreationTime"],
            "TrainingStartTime": execution["CreationTime"],
            "TrainingEndTime": execution["LastModifiedTime"],
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": first_values(definition.get("HyperParameterRanges", {})),
            "FinalHyperParameterTuningJobObjectiveMetric": {
                "MetricName": metric.get("MetricName", "objective"), "Value": round(0.5 + 0.04 * place, 4)},
            "ObjectiveStatus": "Succeeded",
        })
    return ActionResult({"TrainingJobSummaries": trials})


moto_list_pipeline_executions = SageMakerModelBackend.list_pipeline_executions


def list_pipeline_executions(self, pipeline_name):
    listed = moto_list_pipeline_executions(self, pipeline_name)
    for summary in listed["PipelineExecutionSummaries"]:
        if summary.get("PipelineExecutionFailureReason") == "None":
            del summary["PipelineExecutionFailureReason"]
    return listed


SageMakerModelBackend.list_pipeline_executions = list_pipeline_executions
SageMakerResponse.list_pipeline_execution_steps = list_pipeline_execution_steps
SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = list_training_jobs_for_hyper_parameter_tuning_job

if __name__ == "__main__":
    main()
