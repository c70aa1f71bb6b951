using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// Certificates for tests, made from the format docs/security.md describes (ECDSA P-256; the ident
/// as the URI name kaze://ident/A.B.C.D; kaze://relay for a relay) rather than with kaze's own
/// code, so the tests also hold kaze to its documented format; and with any validity period.
/// </summary>
internal static class TestCertificates
{
    public static X509Certificate2 NewCa(string name = "test mesh CA")
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
    }

    /// <summary>Writes a TLS directory (ca.crt, node.crt, node.key) for <paramref name="ident"/> under <paramref name="root"/>/<paramref name="dir"/>.</summary>
    public static string WriteNode(X509Certificate2 ca, string ident, string root, string dir, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool relay = false)
    {
        string path = Path.Combine(root, dir);
        Directory.CreateDirectory(path);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test node " + ident, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("kaze://ident/" + ident));
        if (relay)
        {
            san.AddUri(new Uri("kaze://relay"));
        }

        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 cert = request.Create(ca, notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(12));
        File.WriteAllText(Path.Combine(path, "ca.crt"), ca.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(path, "node.crt"), cert.ExportCertificatePem() + "\n");
        string keyPath = Path.Combine(path, "node.key");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
