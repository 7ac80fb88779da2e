# RESP workload profile: eventflow ADD of one 200-byte event, the event size
# the throughput targets name. The event JSON is exactly 200 bytes:
# {"type":"BenchEvent","data":"<169 letters>"}, the same shape as
# eventflow-bench's --event-size 200. Redis counterpart: redis-streams-200.sh.
KEYSPACE=100000
PAD200=eszycidpyopumzgdpamntyyawoixzhsdkaaauramvgnxaqhyoprhlhvhyojanrudfuxjdxkxwqnqvgjjspqmsbphxzmnvflrwyvxlcovqdyfqmlpxapbjwtssmuffqhaygrrhmqlsloivrtxamzxqzeqyrgnbplsrgqnplnla
WRITE_RAND=(ADD "{\"stream\":\"stream:__rand_int__\",\"version\":\"any\",\"events\":[{\"type\":\"BenchEvent\",\"data\":\"$PAD200\"}]}")
WRITE_HOT=(ADD "{\"stream\":\"stream:hot\",\"version\":\"any\",\"events\":[{\"type\":\"BenchEvent\",\"data\":\"$PAD200\"}]}")
READS=""
