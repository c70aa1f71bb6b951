using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kaze.Mesh.Connections;

namespace Kaze.Mesh.Tls;

/// <summary>
/// TLS 1.3 on one corral connection: the SslStream over a <see cref="TlsWire"/>, its handshake
/// (mutual: both sides present a node certificate of the mesh CA), and the peer's identity read
/// from its certificate.
/// </summary>
internal sealed class TlsConnection : IDisposable
{
    // Room a read of the SslStream should offer: a whole record's plaintext (2^14 bytes in TLS 1.3).
    public const int RecordPlaintext = 16 * 1024;

    private string? _refusal;

    public TlsConnection(Socket socket)
    {
        Wire = new TlsWire(socket);
        Stream = new SslStream(Wire, leaveInnerStreamOpen: false);
    }

    public TlsWire Wire { get; }

    public SslStream Stream { get; }

    /// <summary>The peer's identity, from its certificate, once the handshake succeeded.</summary>
    public MeshIdentity? Peer { get; private set; }

    /// <summary>
    /// Runs the TLS handshake on this thread (the wire is synchronous, so the asynchronous call
    /// completes before it returns); null when it succeeded, else why it failed.
    /// </summary>
    public string? Authenticate(bool server, TlsIdentitySnapshot credentials)
    {
        try
        {
            if (server)
            {
                var options = new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = credentials.Context,
                    ClientCertificateRequired = true,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => Validate(certificate, credentials),
                };
                Stream.AuthenticateAsServerAsync(options, CancellationToken.None).GetAwaiter().GetResult();
            }
            else
            {
                var options = new SslClientAuthenticationOptions
                {
                    // Not checked against the certificate: the peer's ident is, after the handshake.
                    TargetHost = "kaze-mesh",
                    ClientCertificateContext = credentials.Context,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => Validate(certificate, credentials),
                };
                Stream.AuthenticateAsClientAsync(options, CancellationToken.None).GetAwaiter().GetResult();
            }
        }
        catch (Exception e) when (e is AuthenticationException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            return _refusal ?? "TLS handshake failed: " + (e.InnerException?.Message ?? e.Message);
        }

        if (Peer is null)
        {
            return _refusal ?? "the peer presented no certificate";
        }

        Wire.EndHandshake();
        return null;
    }

    public void Dispose()
    {
        try
        {
            Stream.Dispose();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private bool Validate(X509Certificate? certificate, TlsIdentitySnapshot credentials)
    {
        if (certificate is null)
        {
            _refusal = "the peer presented no certificate";
            return false;
        }

        // SslStream owns the certificate it hands over: not disposed here.
        X509Certificate2 peer = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        string? problem = TlsPeerValidator.Check(peer, credentials.Ca, out MeshIdentity? identity);
        if (problem is not null)
        {
            _refusal = problem;
            return false;
        }

        Peer = identity;
        return true;
    }
}
