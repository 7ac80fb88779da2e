# RESP workload profile: Redis Streams with 200-byte events, the event size
# the throughput targets name. Same shape as ../shared/bench/profiles/
# redis-streams.sh; the payload is event-store-200.sh's, so the two compare
# 1:1 (both driven by redis-benchmark). Writes only.
KEYSPACE=100000
PAD200=eszycidpyopumzgdpamntyyawoixzhsdkaaauramvgnxaqhyoprhlhvhyojanrudfuxjdxkxwqnqvgjjspqmsbphxzmnvflrwyvxlcovqdyfqmlpxapbjwtssmuffqhaygrrhmqlsloivrtxamzxqzeqyrgnbplsrgqnplnla
# XADD's fields carry the same type and data as the eventflow event.
WRITE_RAND=(XADD 'stream:__rand_int__' '*' type BenchEvent data "$PAD200")
WRITE_HOT=(XADD stream:hot '*' type BenchEvent data "$PAD200")
READS=""
