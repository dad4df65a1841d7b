#!/usr/bin/env python3
"""moto's server, plus the one call the deployed functions make that moto lacks:
SageMaker's ListPipelineExecutionSteps (the metrics reporter's).

moto marks every pipeline execution Succeeded the moment it starts, so each step of the
execution's definition is listed as Succeeded, with the execution's times. No step carries
RegisterModel metadata: nothing was registered. An unknown execution is refused as moto refuses
DescribePipelineExecution. Everything else is moto's.

    python3 moto_server.py -H 127.0.0.1 -p PORT [-c CERT -k KEY]   (moto_server's arguments)
"""

import json

from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main


def list_pipeline_execution_steps(self):
    arn = self._get_param("PipelineExecutionArn")
    backend = self.sagemaker_backend
    execution = backend.describe_pipeline_execution(arn)
    definition = json.loads(backend.describe_pipeline_definition_for_execution(arn)["PipelineDefinition"])
    steps = [
        {
            "StepName": step["Name"],
            "StepStatus": execution["PipelineExecutionStatus"],
            "StartTime": execution["CreationTime"],
            "EndTime": execution["LastModifiedTime"],
        }
        for step in definition.get("Steps", [])
    ]
    # SageMaker lists the most recent step first.
    return ActionResult({"PipelineExecutionSteps": list(reversed(steps))})


SageMakerResponse.list_pipeline_execution_steps = list_pipeline_execution_steps

if __name__ == "__main__":
    main()
