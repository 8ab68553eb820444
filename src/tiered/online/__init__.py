"""The online half of the learning loop: what the gateway does with live traffic to learn from it.

- `ownership`: which gateway key made each request (a non-secret caller id), and the prompt text of
  requests on learning routes, written to the request log beside each record;
- `feedback`: `POST /v1/tiered/feedback` bodies, checked; labels stored like `tiered label`'s;
- `judge`: the fixed rubric a judge model compares two answers with, through a forced tool call;
- `shadow`: a sample of requests also answered by the other tier(s) after the client got its answer,
  judged, the label written to the log; charged to the learning budget, never the caller's;
- `registry`: router versions, promotion and rollback, and the gateway's hot reload of the promoted one.

The learning itself (fitting and verifying a router on labelled rows) is `tiered.learning`.
"""
