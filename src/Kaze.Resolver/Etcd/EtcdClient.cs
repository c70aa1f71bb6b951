using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// The few calls of etcd's JSON gateway that Kaze needs, over one <see cref="HttpClient"/>: range, put,
/// a put-if-absent transaction, delete, and leases. Every failure becomes a
/// <see cref="RegistryUnavailableException"/> whose message names the endpoint(s).
/// </summary>
/// <remarks>
/// A member that cannot be reached or does not answer within the request timeout is skipped for the
/// next; the member that answered is asked first next time. An error answer (HTTP 4xx/5xx) is
/// etcd's word and is not retried elsewhere.
/// </remarks>
internal sealed class EtcdClient : IDisposable
{
    // gRPC status NotFound, as etcd's gateway reports it in "code".
    internal const int GrpcNotFound = 5;

    private readonly HttpClient _http;
    private readonly Uri[] _endpoints;
    private readonly TimeSpan _requestTimeout;
    private readonly ILogger _logger;

    // Index into _endpoints of the member that answered last; a hint, races only cost a retry.
    private int _preferred;

    public EtcdClient(HttpMessageHandler handler, bool disposeHandler, IReadOnlyList<Uri> endpoints, TimeSpan requestTimeout, ILogger logger)
    {
        // Each request carries its own timeout (per member), so the client-wide one is off.
        _http = new HttpClient(handler, disposeHandler) { Timeout = Timeout.InfiniteTimeSpan };

        // A trailing '/' makes "v3/kv/range" resolve below the endpoint's path, not beside it.
        _endpoints = [.. endpoints.Select(e => e.AbsoluteUri.EndsWith('/') ? e : new Uri(e.AbsoluteUri + "/"))];
        _requestTimeout = requestTimeout;
        _logger = logger;
    }

    public IReadOnlyList<Uri> Endpoints => _endpoints;

    public async Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken) =>
        (await PostAsync("v3/kv/range", request, EtcdJsonContext.Default.RangeRequest, EtcdJsonContext.Default.RangeResponse, cancellationToken).ConfigureAwait(false)).Body!;

    public Task PutAsync(PutRequest request, CancellationToken cancellationToken) =>
        PostAsync("v3/kv/put", request, EtcdJsonContext.Default.PutRequest, EtcdJsonContext.Default.EmptyJson, cancellationToken);

    public async Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken) =>
        (await PostAsync("v3/kv/txn", request, EtcdJsonContext.Default.TxnRequest, EtcdJsonContext.Default.TxnResponse, cancellationToken).ConfigureAwait(false)).Body!;

    public async Task<long> DeleteAsync(byte[] key, CancellationToken cancellationToken) =>
        (await PostAsync("v3/kv/deleterange", new DeleteRangeRequest { Key = key }, EtcdJsonContext.Default.DeleteRangeRequest, EtcdJsonContext.Default.DeleteRangeResponse, cancellationToken).ConfigureAwait(false)).Body!.Deleted;

    /// <summary>A new lease; etcd may raise the TTL to its minimum (about 2 s with default settings).</summary>
    public async Task<(long Id, long Ttl)> GrantLeaseAsync(long ttlSeconds, CancellationToken cancellationToken)
    {
        var (endpoint, body) = await PostAsync("v3/lease/grant", new LeaseGrantRequest { Ttl = ttlSeconds }, EtcdJsonContext.Default.LeaseGrantRequest, EtcdJsonContext.Default.LeaseGrantResponse, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(body!.Error) || body.Id == 0)
        {
            throw new RegistryUnavailableException($"etcd at {endpoint} granted no lease: {(string.IsNullOrEmpty(body.Error) ? "the answer has no ID" : body.Error)}", [endpoint]);
        }

        return (body.Id, body.Ttl);
    }

    /// <summary>Renews a lease once; returns its new TTL in seconds, or 0 if etcd no longer has it (it expired or was revoked).</summary>
    public async Task<long> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        var (endpoint, text) = await PostAsync<LeaseIdRequest, string>("v3/lease/keepalive", new LeaseIdRequest { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequest, null, cancellationToken).ConfigureAwait(false);

        // A stream of one JSON object per line; one request, so the first line is the answer.
        string line = text!.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        LeaseKeepAliveStreamLine? parsed = Deserialize(line, EtcdJsonContext.Default.LeaseKeepAliveStreamLine, endpoint, "v3/lease/keepalive");
        if (parsed?.Error is { } error)
        {
            throw new RegistryUnavailableException($"etcd at {endpoint} refused to keep lease {leaseId:x} alive: {error.Message} (gRPC code {error.GrpcCode})", [endpoint]);
        }

        return parsed?.Result?.Ttl is > 0 and var ttl ? ttl : 0;
    }

    /// <summary>Revokes a lease, deleting every key attached to it; false if etcd did not have it.</summary>
    public async Task<bool> RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        try
        {
            await PostAsync("v3/lease/revoke", new LeaseIdRequest { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequest, EtcdJsonContext.Default.EmptyJson, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RegistryUnavailableException error) when (error.ErrorCode == GrpcNotFound)
        {
            return false;
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>POSTs to the first member that answers; the body is parsed with <paramref name="responseType"/>, or returned as text if it is null.</summary>
    private async Task<(Uri Endpoint, TResponse? Body)> PostAsync<TRequest, TResponse>(
        string path,
        TRequest request,
        JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<TResponse>? responseType,
        CancellationToken cancellationToken)
        where TResponse : class
    {
        int first = Volatile.Read(ref _preferred);
        List<string>? failures = null;
        for (int attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            int index = (first + attempt) % _endpoints.Length;
            Uri endpoint = _endpoints[index];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_requestTimeout);
            HttpResponseMessage response;
            string text;
            try
            {
                using var content = JsonContent.Create(request, requestType);
                response = await _http.PostAsync(new Uri(endpoint, path), content, timeout.Token).ConfigureAwait(false);
                using (response)
                {
                    text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                string reason = $"no answer to POST /{path} within {_requestTimeout.TotalSeconds:0.###} s";
                EtcdLog.EndpointFailed(_logger, endpoint, reason);
                (failures ??= []).Add($"{endpoint} ({reason})");
                continue;
            }
            catch (HttpRequestException exception)
            {
                string reason = exception.InnerException?.Message ?? exception.Message;
                EtcdLog.EndpointFailed(_logger, endpoint, reason);
                (failures ??= []).Add($"{endpoint} ({reason})");
                continue;
            }

            Volatile.Write(ref _preferred, index);
            if (!response.IsSuccessStatusCode)
            {
                throw ErrorAnswer(endpoint, path, response.StatusCode, text);
            }

            TResponse? body = responseType is null ? text as TResponse : Deserialize(text, responseType, endpoint, path);
            return (endpoint, body ?? throw NotGateway(endpoint, path, text, null));
        }

        string tried = string.Join(", ", failures!);
        throw new RegistryUnavailableException(
            $"etcd is unreachable: {tried}. Check that etcd runs there and that EtcdResolverOptions.Endpoints lists its client URLs.",
            _endpoints);
    }

    private static T? Deserialize<T>(string text, JsonTypeInfo<T> type, Uri endpoint, string path)
    {
        try
        {
            return JsonSerializer.Deserialize(text, type);
        }
        catch (JsonException exception)
        {
            throw NotGateway(endpoint, path, text, exception);
        }
    }

    private static RegistryUnavailableException NotGateway(Uri endpoint, string path, string text, Exception? inner) =>
        new($"{endpoint} answered POST /{path} with something that is not etcd's JSON gateway (is it an etcd 3.4+ client URL?): {Echo(text)}", [endpoint], inner);

    private static RegistryUnavailableException ErrorAnswer(Uri endpoint, string path, HttpStatusCode status, string text)
    {
        ErrorResponse? error = null;
        try
        {
            error = JsonSerializer.Deserialize(text, EtcdJsonContext.Default.ErrorResponse);
        }
        catch (JsonException)
        {
            // Not the gateway's error shape (a proxy, another server): the raw text is quoted below.
        }

        string message = error?.Message ?? error?.Error ?? Echo(text);
        string hint = status == HttpStatusCode.NotFound && error is null ? " (is it an etcd 3.4+ client URL? older ones serve /v3beta or /v3alpha)" : "";
        return new RegistryUnavailableException(
            $"etcd at {endpoint} answered POST /{path} with HTTP {(int)status}: {message}{hint}",
            [endpoint])
        {
            ErrorCode = error?.Code,
        };
    }

    private static string Echo(string text)
    {
        const int MaxEchoed = 200;
        string trimmed = text.Trim();
        return trimmed.Length == 0 ? "(an empty body)" : trimmed.Length <= MaxEchoed ? $"'{trimmed}'" : $"'{trimmed[..MaxEchoed]}...'";
    }
}
