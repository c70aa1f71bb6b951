using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kaze.Protocol;

namespace Kaze.Mesh.Tls;

/// <summary>
/// A node's TLS directory (<c>--tls DIR</c>): <c>ca.crt</c> (the mesh CA, the only one trusted),
/// <c>node.crt</c> and <c>node.key</c> (this node's certificate, which binds its ident). Reloaded
/// when the files change: each new connection looks at their sizes and modification times
/// (<see cref="Current"/>), so certificates rotate without a restart; connections already open
/// keep the certificates they were made with.
/// </summary>
/// <remarks>
/// A reload that fails (a file half written, a key that does not match) keeps the certificates
/// in use and reports the problem through <see cref="ReloadFailed"/>; it is tried again when the
/// files change again. Thread-safe: the loaded set is an immutable snapshot swapped through one field.
/// </remarks>
public sealed class TlsCredentials
{
    private readonly Lock _reloadLock = new();

    // The certificates in use and the stamp of the files they came from; replaced whole.
    private volatile Loaded _loaded;

    // The stamp of files that failed to load, so that a bad set is not read again at every connection.
    private FileStamp? _failedStamp;

    private TlsCredentials(string directory, Loaded loaded)
    {
        Directory = directory;
        _loaded = loaded;
    }

    /// <summary>The TLS directory.</summary>
    public string Directory { get; }

    /// <summary>Called (with the reason) when changed files could not be loaded; the previous certificates stay in use.</summary>
    public Action<string>? ReloadFailed { get; set; }

    /// <summary>Called when changed files were loaded.</summary>
    public Action<TlsIdentitySnapshot>? Reloaded { get; set; }

    /// <summary>The certificates in use, reloaded first if the files changed.</summary>
    public TlsIdentitySnapshot Current
    {
        get
        {
            Loaded loaded = _loaded;
            FileStamp stamp;
            try
            {
                stamp = FileStamp.Of(Directory);
            }
            catch (IOException)
            {
                return loaded.Snapshot;
            }

            if (stamp == loaded.Stamp || stamp == _failedStamp)
            {
                return loaded.Snapshot;
            }

            lock (_reloadLock)
            {
                if (_loaded.Stamp == stamp || _failedStamp == stamp)
                {
                    return _loaded.Snapshot;
                }

                if (TryRead(Directory, out Loaded? fresh, out string? problem))
                {
                    _loaded = fresh;
                    _failedStamp = null;
                    Reloaded?.Invoke(fresh.Snapshot);
                    return fresh.Snapshot;
                }

                _failedStamp = stamp;
                ReloadFailed?.Invoke(problem);
                return _loaded.Snapshot;
            }
        }
    }

    /// <summary>Loads a TLS directory; null with every problem when it cannot be used.</summary>
    /// <param name="directory">The directory.</param>
    /// <param name="problems">What is wrong, each for a person.</param>
    /// <returns>The credentials, or null.</returns>
    public static TlsCredentials? Load(string directory, out List<string> problems)
    {
        problems = [];
        if (!System.IO.Directory.Exists(directory))
        {
            problems.Add($"'{directory}' is not a directory (it holds {MeshCertificates.CaCertFile}, {MeshCertificates.NodeCertFile} and {MeshCertificates.NodeKeyFile}: see `kaze cert issue`)");
            return null;
        }

        if (!TryRead(directory, out Loaded? loaded, out string? problem))
        {
            problems.Add(problem);
            return null;
        }

        return new TlsCredentials(directory, loaded);
    }

    private static bool TryRead(string directory, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Loaded? loaded, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        loaded = null;
        string caPath = Path.Combine(directory, MeshCertificates.CaCertFile);
        string certPath = Path.Combine(directory, MeshCertificates.NodeCertFile);
        string keyPath = Path.Combine(directory, MeshCertificates.NodeKeyFile);
        FileStamp stamp;
        X509Certificate2 ca;
        X509Certificate2 node;
        try
        {
            stamp = FileStamp.Of(directory);
            if ((File.GetUnixFileMode(keyPath) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                problem = $"{keyPath} is readable by other users; make it mode 0600 (chmod 600 {keyPath})";
                return false;
            }

            ca = X509Certificate2.CreateFromPem(File.ReadAllText(caPath));
            X509Certificate2 withKey = X509Certificate2.CreateFromPemFile(certPath, keyPath);

            // A certificate whose key came from PEM files is exported and imported once: OpenSSL
            // then holds the key as SslStream expects on every platform.
            node = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
            withKey.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            problem = $"cannot load the TLS directory '{directory}' ({MeshCertificates.CaCertFile}, {MeshCertificates.NodeCertFile}, {MeshCertificates.NodeKeyFile}): {e.Message}";
            return false;
        }

        if (!ca.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            problem = $"{caPath} is not a CA certificate";
            return false;
        }

        MeshIdentity identity = MeshCertificates.ReadIdentity(node);
        if (identity.Ident is null)
        {
            problem = $"{certPath} binds no ident (no single {MeshCertificates.IdentUriPrefix}A.B.C.D name): issue it with `kaze cert issue --ident`";
            return false;
        }

        string? chainProblem = TlsPeerValidator.Check(node, ca, out _, ignoreTime: true);
        if (chainProblem is not null)
        {
            problem = $"{certPath}: {chainProblem}";
            return false;
        }

        var context = SslStreamCertificateContext.Create(node, additionalCertificates: null, offline: true);
        loaded = new Loaded(stamp, new TlsIdentitySnapshot(ca, node, identity.Ident.Value, identity.Relay, context));
        problem = null;
        return true;
    }

    private sealed record Loaded(FileStamp Stamp, TlsIdentitySnapshot Snapshot);

    private readonly record struct FileStamp(long CaTime, long CaLength, long CertTime, long CertLength, long KeyTime, long KeyLength)
    {
        public static FileStamp Of(string directory)
        {
            var ca = new FileInfo(Path.Combine(directory, MeshCertificates.CaCertFile));
            var cert = new FileInfo(Path.Combine(directory, MeshCertificates.NodeCertFile));
            var key = new FileInfo(Path.Combine(directory, MeshCertificates.NodeKeyFile));
            return new FileStamp(Time(ca), Length(ca), Time(cert), Length(cert), Time(key), Length(key));
        }

        private static long Time(FileInfo file) => file.Exists ? file.LastWriteTimeUtc.Ticks : -1;

        private static long Length(FileInfo file) => file.Exists ? file.Length : -1;
    }
}

/// <summary>One loaded set of a node's TLS files.</summary>
/// <param name="Ca">The mesh CA: the only root trusted.</param>
/// <param name="Certificate">This node's certificate, with its key.</param>
/// <param name="Ident">The ident the certificate binds.</param>
/// <param name="Relay">The certificate allows relaying.</param>
/// <param name="Context">What SslStream sends as this node's certificate.</param>
public sealed record TlsIdentitySnapshot(X509Certificate2 Ca, X509Certificate2 Certificate, Ident Ident, bool Relay, SslStreamCertificateContext Context);
