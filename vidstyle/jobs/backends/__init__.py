"""The run loop's back ends (:mod:`vidstyle.jobs.loop`): in-process, and Ray."""
