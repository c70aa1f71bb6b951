using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kaze.Protocol;

namespace Kaze.Mesh.Tls;

/// <summary>
/// The mesh's certificates, made with .NET's own crypto (ECDSA P-256, SHA-256): a mesh CA, and
/// node certificates it signs. A node certificate binds an ident as a URI subject alternative
/// name <c>kaze://ident/A.B.C.D</c>; each service name as <c>kaze://name/NAME</c>; a relay
/// (a sidecar allowed to forward packets whose <c>srcIdent</c> is another node's) carries
/// <c>kaze://relay</c>. URI names rather than DNS names: a certificate of the mesh then never
/// passes for a web server's, and names need not be host names.
/// </summary>
public static class MeshCertificates
{
    /// <summary>The URI scheme and authority of an ident: <c>kaze://ident/0.0.0.2</c>.</summary>
    public const string IdentUriPrefix = "kaze://ident/";

    /// <summary>The URI prefix of a service name: <c>kaze://name/echo</c>.</summary>
    public const string NameUriPrefix = "kaze://name/";

    /// <summary>The URI that allows a node to relay packets of other nodes.</summary>
    public const string RelayUri = "kaze://relay";

    /// <summary>The files of a TLS directory (<c>--tls DIR</c>).</summary>
    public const string CaCertFile = "ca.crt";

    /// <summary>The CA's private key, in the CA's directory only (mode 0600).</summary>
    public const string CaKeyFile = "ca.key";

    /// <summary>The node's certificate.</summary>
    public const string NodeCertFile = "node.crt";

    /// <summary>The node's private key (mode 0600).</summary>
    public const string NodeKeyFile = "node.key";

    /// <summary>Makes a mesh CA: a self-signed certificate that may sign node certificates only.</summary>
    /// <param name="name">The CA's common name.</param>
    /// <param name="notBefore">Start of validity.</param>
    /// <param name="notAfter">End of validity.</param>
    /// <returns>The certificate, with its private key.</returns>
    public static X509Certificate2 CreateCa(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + Escape(name)), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    /// <summary>Issues a node certificate signed by <paramref name="ca"/>.</summary>
    /// <param name="ca">The mesh CA, with its private key.</param>
    /// <param name="ident">The node's ident (not 0.0.0.0).</param>
    /// <param name="names">Service names the node serves.</param>
    /// <param name="relay">The node may relay packets of other nodes.</param>
    /// <param name="notBefore">Start of validity.</param>
    /// <param name="notAfter">End of validity (clipped to the CA's).</param>
    /// <returns>The certificate, with its private key.</returns>
    public static X509Certificate2 Issue(X509Certificate2 ca, Ident ident, IReadOnlyList<string> names, bool relay, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentNullException.ThrowIfNull(names);
        if (ident == Ident.Any)
        {
            throw new ArgumentException("0.0.0.0 is not a node's ident", nameof(ident));
        }

        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=kaze node " + ident), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(IdentUriPrefix + ident));
        foreach (string name in names)
        {
            san.AddUri(new Uri(NameUriPrefix + Uri.EscapeDataString(name)));
        }

        if (relay)
        {
            san.AddUri(new Uri(RelayUri));
        }

        request.CertificateExtensions.Add(san.Build(true));
        if (notAfter > ca.NotAfter)
        {
            notAfter = ca.NotAfter;
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using X509Certificate2 issued = request.Create(ca, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>What a node certificate says about the node; <see cref="MeshIdentity.Ident"/> is null when it names no ident.</summary>
    /// <param name="certificate">A certificate.</param>
    /// <returns>The identity it binds.</returns>
    public static MeshIdentity ReadIdentity(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Ident? ident = null;
        int idents = 0;
        bool relay = false;
        var names = new List<string>();
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != "2.5.29.17")
            {
                continue;
            }

            foreach (string uri in ReadUris(extension.RawData))
            {
                if (uri.StartsWith(IdentUriPrefix, StringComparison.Ordinal))
                {
                    idents++;
                    if (Ident.TryParse(uri.AsSpan(IdentUriPrefix.Length), out Ident parsed) && parsed != Ident.Any)
                    {
                        ident = parsed;
                    }
                }
                else if (uri.StartsWith(NameUriPrefix, StringComparison.Ordinal))
                {
                    names.Add(Uri.UnescapeDataString(uri[NameUriPrefix.Length..]));
                }
                else if (uri.TrimEnd('/') == RelayUri)
                {
                    relay = true;
                }
            }
        }

        // Two idents in one certificate bind none: which one would the peer be?
        return new MeshIdentity(idents == 1 ? ident : null, names, relay);
    }

    /// <summary>Writes a certificate as PEM (mode 0644) and its private key as PKCS#8 PEM (mode 0600, set before any byte is written).</summary>
    /// <param name="certificate">The certificate, with its private key.</param>
    /// <param name="certPath">Where the certificate goes.</param>
    /// <param name="keyPath">Where the key goes.</param>
    public static void Write(X509Certificate2 certificate, string certPath, string keyPath)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using ECDsa key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no ECDSA private key", nameof(certificate));
        WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        WriteReplacing(certPath, certificate.ExportCertificatePem() + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    /// <summary>Writes text to a file created with mode 0600 (through a temporary file, renamed over the target).</summary>
    /// <param name="path">The file.</param>
    /// <param name="text">Its content.</param>
    public static void WritePrivate(string path, string text) =>
        WriteReplacing(path, text + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

    private static void WriteReplacing(string path, string text, UnixFileMode mode)
    {
        // Renamed into place: a sidecar that reloads the files never reads half of one.
        string temporary = path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode };
        try
        {
            using (var stream = new FileStream(temporary, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(text);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static List<string> ReadUris(byte[] sanExtension)
    {
        var uris = new List<string>();
        try
        {
            var reader = new AsnReader(sanExtension, AsnEncodingRules.DER);
            AsnReader names = reader.ReadSequence();
            var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
            while (names.HasData)
            {
                Asn1Tag tag = names.PeekTag();
                if (tag == uriTag)
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed extension binds nothing.
            uris.Clear();
        }

        return uris;
    }

    private static string Escape(string name) => name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal)
        .Replace("+", "\\+", StringComparison.Ordinal).Replace("=", "\\=", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}

/// <summary>What a node certificate binds.</summary>
/// <param name="Ident">The node's ident, or null when the certificate names none (or more than one).</param>
/// <param name="Names">Service names.</param>
/// <param name="Relay">The node may relay packets of other nodes.</param>
public sealed record MeshIdentity(Ident? Ident, IReadOnlyList<string> Names, bool Relay);
