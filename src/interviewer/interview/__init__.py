"""The interview: the engine every front end drives, its graph, plans, records, results and transcript."""
