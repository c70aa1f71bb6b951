using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kaze.Mesh.Tls;

/// <summary>
/// Checks a peer's certificate against the mesh CA only (a chain built with
/// <see cref="X509ChainTrustMode.CustomRootTrust"/>: the system's roots are never trusted), and
/// reads the identity it binds.
/// </summary>
public static class TlsPeerValidator
{
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    /// <summary>Why <paramref name="certificate"/> is not a node certificate of the mesh of <paramref name="ca"/>; null when it is.</summary>
    /// <param name="certificate">The peer's certificate.</param>
    /// <param name="ca">The mesh CA.</param>
    /// <param name="identity">What it binds, when it is valid.</param>
    /// <param name="ignoreTime">Check all but the validity period (a node's own certificate at load: its peers judge the time).</param>
    /// <returns>The problem in words, or null.</returns>
    public static string? Check(X509Certificate2 certificate, X509Certificate2 ca, out MeshIdentity? identity, bool ignoreTime = false)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(ca);
        identity = null;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuth);
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuth);
        chain.ChainPolicy.DisableCertificateDownloads = true;
        DateTime now = DateTime.Now;
        chain.ChainPolicy.VerificationTime = now;
        chain.ChainPolicy.VerificationTimeIgnored = ignoreTime;
        bool built = chain.Build(certificate);
        try
        {
            X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
            foreach (X509ChainStatus status in chain.ChainStatus)
            {
                flags |= status.Status;
            }

            if (!built && ignoreTime && (flags & ~X509ChainStatusFlags.NotTimeValid) == X509ChainStatusFlags.NoError)
            {
                built = true;
            }

            if (!built)
            {
                if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.NotSignatureValid)) != 0)
                {
                    return $"the certificate ({certificate.Subject}, issuer {certificate.Issuer}) is not signed by this mesh's CA";
                }

                if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
                {
                    return now < certificate.NotBefore
                        ? $"the certificate ({certificate.Subject}) is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"
                        : certificate.NotAfter < now
                            ? $"the certificate ({certificate.Subject}) expired at {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC"
                            : "the mesh CA's certificate is not valid now";
                }

                return $"the certificate ({certificate.Subject}) is not valid: {Describe(chain)}";
            }

            // The chain ends at the mesh CA itself, not at another root with the same name.
            X509Certificate2 root = chain.ChainElements[^1].Certificate;
            if (!root.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span))
            {
                return $"the certificate ({certificate.Subject}) is not signed by this mesh's CA";
            }

            if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
            {
                return $"the certificate ({certificate.Subject}) is a CA's, not a node's";
            }

            MeshIdentity read = MeshCertificates.ReadIdentity(certificate);
            if (read.Ident is null)
            {
                return $"the certificate ({certificate.Subject}) binds no ident (one {MeshCertificates.IdentUriPrefix}A.B.C.D name)";
            }

            identity = read;
            return null;
        }
        finally
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    private static string Describe(X509Chain chain)
    {
        var parts = new List<string>();
        foreach (X509ChainStatus status in chain.ChainStatus)
        {
            parts.Add(status.StatusInformation.Trim());
        }

        return parts.Count == 0 ? "the chain could not be built" : string.Join("; ", parts);
    }
}
