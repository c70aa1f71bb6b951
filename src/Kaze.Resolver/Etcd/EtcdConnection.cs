using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using dotnet_etcd.interfaces;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;

namespace Kaze.Resolver.Etcd;

/// <summary>
/// The gRPC connection to etcd, made by the dotnet-etcd package: its channel over every endpoint
/// (round robin over the members that can be reached), TLS, and user/password tokens. The registry
/// uses the generated clients (<see cref="IConnection"/>) for the streams it runs itself (watch,
/// lease keep-alive), so that it sees every revision, compaction and stream end.
/// </summary>
internal sealed class EtcdConnection : IDisposable
{
    /// <summary>The largest answer read (a range over every node: 16,384 nodes of ~200 bytes fit).</summary>
    public const int MaxMessageBytes = 16 << 20;

    private readonly EtcdClient _client;
    private readonly TimeSpan _requestTimeout;

    public EtcdConnection(EtcdRegistryOptions options)
    {
        Endpoints = options.EffectiveEndpoints;
        _requestTimeout = options.RequestTimeout;
        string connectionString = string.Join(',', Endpoints.Select(e => e.GetLeftPart(UriPartial.Authority)));
        bool tls = Endpoints[0].Scheme == Uri.UriSchemeHttps;

        void ConfigureChannel(GrpcChannelOptions channel)
        {
            // No retry policy: every call has its own deadline, and the registry's loops retry with
            // their own backoff (the package's default retries Unavailable five times, for seconds).
            channel.ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new RoundRobinConfig() } };
            channel.MaxReceiveMessageSize = MaxMessageBytes;
            if (channel.HttpHandler is SocketsHttpHandler handler)
            {
                handler.ConnectTimeout = options.RequestTimeout;

                // A member that vanishes without a FIN (a partition) is noticed by the pings within
                // ~10 s, even on an idle watch.
                handler.KeepAlivePingDelay = TimeSpan.FromSeconds(5);
                handler.KeepAlivePingTimeout = TimeSpan.FromSeconds(5);
                handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always;
            }
        }

        _client = tls
            ? new EtcdClient(connectionString, ssl => ConfigureTls(ssl, options, Endpoints), serverName: Endpoints[0].Host, configureChannelOptions: ConfigureChannel)
            : new EtcdClient(connectionString, serverName: Endpoints[0].Host, configureChannelOptions: ConfigureChannel);
        if (!string.IsNullOrEmpty(options.Username))
        {
            _client.SetCredentials(options.Username, options.Password!);
        }

        Raw = _client.GetConnection();
    }

    /// <summary>The members' client URLs.</summary>
    public IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>The generated gRPC clients (KV, Watch, Lease), through the package's channel and authentication.</summary>
    public IConnection Raw { get; }

    /// <summary>The deadline of a request started now.</summary>
    public DateTime Deadline() => DateTime.UtcNow + _requestTimeout;

    /// <summary>"http://a:2379, http://b:2379", for messages.</summary>
    public string Describe() => string.Join(", ", Endpoints.Select(e => e.GetLeftPart(UriPartial.Authority)));

    /// <summary>A failed call as the exception the registry throws: it names the endpoints and what etcd said.</summary>
    public RegistryUnavailableException Unavailable(string what, Exception exception)
    {
        string reason = exception switch
        {
            RpcException { StatusCode: StatusCode.DeadlineExceeded } => $"no answer within {_requestTimeout.TotalSeconds:0.###} s",
            RpcException rpc => string.IsNullOrEmpty(rpc.Status.Detail) ? rpc.StatusCode.ToString() : $"{rpc.Status.Detail} ({rpc.StatusCode})",
            _ => exception.Message,
        };
        return new RegistryUnavailableException($"etcd at {Describe()}: {what} failed: {reason}", Endpoints, exception)
        {
            ErrorCode = exception is RpcException r ? (int)r.StatusCode : null,
        };
    }

    public void Dispose() => _client.Dispose();

    private static void ConfigureTls(SslClientAuthenticationOptions ssl, EtcdRegistryOptions options, IReadOnlyList<Uri> endpoints)
    {
        if (!string.IsNullOrEmpty(options.ClientCertificateFile))
        {
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.ClientCertificateFile, options.ClientKeyFile)];
        }

        X509Certificate2Collection? trusted = null;
        if (!string.IsNullOrEmpty(options.TrustedCaFile))
        {
            trusted = [];
            trusted.ImportFromPemFile(options.TrustedCaFile);
        }

        // The channel reaches the members through one logical name (the first endpoint's host), so the
        // name check is ours: the certificate must be valid for one of the endpoints' hosts, and chain
        // to the given authorities (or the system's when none are given).
        ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (certificate is null)
            {
                return false;
            }

            using var leaf = new X509Certificate2(certificate);
            if (!endpoints.Any(e => leaf.MatchesHostname(e.IdnHost)))
            {
                return false;
            }

            if (trusted is null)
            {
                return (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(leaf);
        };
    }
}
