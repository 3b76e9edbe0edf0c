"""Definitions: what a workflow, a retry schedule, a schedule string or a tag may contain.

Modules (import them directly; this package imports nothing, so that light users such as the
process layer never pay for lxml). Errors are ``evqueue.errors`` classes, which carry
evQueue's error codes.

- ``content``: base64 request content and object names.
- ``document``: safe XML parsing and validation against the package's ``*.xsd`` files.
- ``workflow``: :class:`~evqueue.model.workflow.WorkflowDefinition`.
- ``retry_schedule``: :class:`~evqueue.model.retry_schedule.RetrySchedule`.
- ``schedule``: :class:`~evqueue.model.schedule.Schedule`, the 6-field workflow schedule.
- ``tags``: tag label rules.
- ``xpath``: evQueue's XPath functions over elementpath (used by the engine and the API).
"""

__all__: list[str] = []
