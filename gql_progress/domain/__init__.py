"""Business rules: who may act for whom, how progress is written, when a course is complete."""
