"""hrguard plugin: approved leave (``leave.approved``) and two rules written one event at a time."""
