"""The work behind the service's routes, kept apart from HTTP so the demo and the command
line can call it too: one module per task (planning and checks, approvals, flying and
conformance, detection, stored files, streamed uploads).

Long work is handed to :meth:`api.jobs.JobRunner.submit` as a :data:`api.jobs.Work`
closure made by a ``*_job`` function of these modules.
"""
