"""Speed and memory: `interviewer bench` and the load test (`make loadtest`)."""
