"""Speed and memory: `interviewer bench` (and `--speech`), the load test (`make loadtest`) and the soak."""
