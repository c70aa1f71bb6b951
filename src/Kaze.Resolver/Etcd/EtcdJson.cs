using System.Text.Json.Serialization;

namespace Kaze.Resolver.Etcd;

// The JSON of etcd's gRPC gateway (etcd 3.4+: POST <endpoint>/v3/...): the proto3 JSON mapping of
// etcdserverpb messages. bytes are base64; int64 are written as strings ("revision":"2") and read from
// either; fields at their default value are left out, in both directions.
//
//   POST /v3/kv/range        {"key":b64, "range_end":b64?, "keys_only":bool?}
//                          → {"header":{..}, "kvs":[{"key":b64, "value":b64, "lease":"123", ..}]?, "count":"1"?}
//   POST /v3/kv/put          {"key":b64, "value":b64, "lease":"123"?}          → {"header":{..}}
//   POST /v3/kv/txn          {"compare":[..], "success":[{"request_put":{..}}], "failure":[{"request_range":{..}}]}
//                          → {"header":{..}, "succeeded":true?, "responses":[{"response_put":{..}} | {"response_range":{..}}]}
//   POST /v3/kv/deleterange  {"key":b64}                                       → {"header":{..}, "deleted":"1"?}
//   POST /v3/lease/grant     {"TTL":"10"}                                      → {"header":{..}, "ID":"7587..", "TTL":"10"}
//   POST /v3/lease/keepalive {"ID":"7587.."}  (a stream: one JSON object per line)
//                          → {"result":{"header":{..}, "ID":"7587..", "TTL":"10"}}; TTL absent = the lease is gone
//   POST /v3/lease/revoke    {"ID":"7587.."}                                   → {"header":{..}}; unknown lease: HTTP 404
//   errors: HTTP 4xx/5xx     {"error":"etcdserver: ...", "message":"etcdserver: ...", "code":5}   (code: gRPC status)

internal sealed class RangeRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    [JsonPropertyName("range_end")]
    public byte[]? RangeEnd { get; init; }

    [JsonPropertyName("keys_only")]
    public bool KeysOnly { get; init; }
}

internal sealed class RangeResponse
{
    [JsonPropertyName("kvs")]
    public List<KeyValue>? Kvs { get; init; }

    [JsonPropertyName("count")]
    public long Count { get; init; }
}

internal sealed class KeyValue
{
    [JsonPropertyName("key")]
    public byte[]? Key { get; init; }

    [JsonPropertyName("value")]
    public byte[]? Value { get; init; }

    [JsonPropertyName("lease")]
    public long Lease { get; init; }
}

internal sealed class PutRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    [JsonPropertyName("value")]
    public required byte[] Value { get; init; }

    [JsonPropertyName("lease")]
    public long Lease { get; init; }
}

internal sealed class DeleteRangeRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }
}

internal sealed class DeleteRangeResponse
{
    [JsonPropertyName("deleted")]
    public long Deleted { get; init; }
}

internal sealed class TxnRequest
{
    [JsonPropertyName("compare")]
    public required List<TxnCompare> Compare { get; init; }

    [JsonPropertyName("success")]
    public required List<TxnRequestOp> Success { get; init; }

    [JsonPropertyName("failure")]
    public required List<TxnRequestOp> Failure { get; init; }
}

internal sealed class TxnCompare
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    /// <summary>"EQUAL", "GREATER", "LESS", "NOT_EQUAL".</summary>
    [JsonPropertyName("result")]
    public required string Result { get; init; }

    /// <summary>"VERSION", "CREATE", "MOD", "VALUE", "LEASE".</summary>
    [JsonPropertyName("target")]
    public required string Target { get; init; }

    // Written even when 0: "create_revision == 0" is how "the key does not exist" is asked.
    [JsonPropertyName("create_revision")]
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public long CreateRevision { get; init; }
}

internal sealed class TxnRequestOp
{
    [JsonPropertyName("request_put")]
    public PutRequest? RequestPut { get; init; }

    [JsonPropertyName("request_range")]
    public RangeRequest? RequestRange { get; init; }
}

internal sealed class TxnResponse
{
    [JsonPropertyName("succeeded")]
    public bool Succeeded { get; init; }

    [JsonPropertyName("responses")]
    public List<TxnResponseOp>? Responses { get; init; }
}

internal sealed class TxnResponseOp
{
    [JsonPropertyName("response_range")]
    public RangeResponse? ResponseRange { get; init; }
}

internal sealed class LeaseGrantRequest
{
    [JsonPropertyName("TTL")]
    public long Ttl { get; init; }
}

internal sealed class LeaseGrantResponse
{
    [JsonPropertyName("ID")]
    public long Id { get; init; }

    [JsonPropertyName("TTL")]
    public long Ttl { get; init; }

    [JsonPropertyName("error")]
    public string? Error { get; init; }
}

internal sealed class LeaseIdRequest
{
    [JsonPropertyName("ID")]
    public long Id { get; init; }
}

internal sealed class LeaseKeepAliveResponse
{
    [JsonPropertyName("ID")]
    public long Id { get; init; }

    [JsonPropertyName("TTL")]
    public long Ttl { get; init; }
}

/// <summary>One line of the keep-alive stream: a result, or an error object.</summary>
internal sealed class LeaseKeepAliveStreamLine
{
    [JsonPropertyName("result")]
    public LeaseKeepAliveResponse? Result { get; init; }

    [JsonPropertyName("error")]
    public StreamError? Error { get; init; }
}

internal sealed class StreamError
{
    [JsonPropertyName("grpc_code")]
    public int GrpcCode { get; init; }

    [JsonPropertyName("http_code")]
    public int HttpCode { get; init; }

    [JsonPropertyName("message")]
    public string? Message { get; init; }
}

/// <summary>The body of an error answer (any HTTP status other than 2xx).</summary>
internal sealed class ErrorResponse
{
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    [JsonPropertyName("message")]
    public string? Message { get; init; }

    /// <summary>The gRPC status code: 5 NotFound, 3 InvalidArgument, ...</summary>
    [JsonPropertyName("code")]
    public int Code { get; init; }
}

/// <summary>Empty request and response bodies: only the HTTP status matters.</summary>
internal sealed class EmptyJson
{
}

[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault,
    NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
[JsonSerializable(typeof(RangeRequest))]
[JsonSerializable(typeof(RangeResponse))]
[JsonSerializable(typeof(PutRequest))]
[JsonSerializable(typeof(DeleteRangeRequest))]
[JsonSerializable(typeof(DeleteRangeResponse))]
[JsonSerializable(typeof(TxnRequest))]
[JsonSerializable(typeof(TxnResponse))]
[JsonSerializable(typeof(LeaseGrantRequest))]
[JsonSerializable(typeof(LeaseGrantResponse))]
[JsonSerializable(typeof(LeaseIdRequest))]
[JsonSerializable(typeof(LeaseKeepAliveStreamLine))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(EmptyJson))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext
{
}
