using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Kaze.Mesh.Tls;
using Kaze.Protocol;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze cert init DIR</c>, <c>kaze cert issue --ca DIR --ident IDENT [--name NAME]... [--relay] --out DIR</c>,
/// <c>kaze cert show FILE</c>: the mesh CA and node certificates for <c>--tls DIR</c>
/// (<see cref="MeshCertificates"/>; .NET's own crypto, no openssl).
/// </summary>
internal static class CertCommand
{
    public static Command Create()
    {
        var cert = new Command("cert", "Make the mesh's certificates for --tls: a mesh CA (init), a node certificate that binds an ident (issue), or print what a certificate says (show). See docs/security.md.")
        {
            CreateInit(),
            CreateIssue(),
            CreateShow(),
        };
        cert.Action = new UsageCheckedAction("cert", (parse, ct) =>
            Task.FromResult(UsageCheckedAction.Usage("cert", ["say what to do: `kaze cert init DIR`, `kaze cert issue --ca DIR --ident IDENT --out DIR` or `kaze cert show FILE` (kaze cert --help)"])));
        return cert;
    }

    private static Command CreateInit()
    {
        var dir = new Argument<string>("DIR") { Description = "The CA's directory (created if missing); ca.crt and ca.key are written there." };
        var days = new Option<int>("--days") { Description = "Days the CA is valid. [default: 3650]", DefaultValueFactory = _ => 3650 };
        var name = new Option<string>("--name") { Description = "The CA's common name. [default: kaze mesh CA]", DefaultValueFactory = _ => "kaze mesh CA" };
        var init = new Command(
            "init",
            "Make a mesh CA in DIR: ca.crt (the certificate every node trusts; give it to every node) and ca.key (its private key, mode 0600: keep it off the nodes). " +
            "An existing ca.key is never overwritten. Exit codes: 0 made; 1 it cannot be written; 2 bad options or a CA exists in DIR already.")
        {
            dir, days, name,
        };
        init.Action = new UsageCheckedAction("cert init", (parse, ct) =>
        {
            string path = parse.GetValue(dir)!;
            int valid = parse.GetValue(days);
            if (valid < 1)
            {
                return Task.FromResult(UsageCheckedAction.Usage("cert init", [$"--days must be at least 1, not {valid}"]));
            }

            string keyPath = Path.Combine(path, MeshCertificates.CaKeyFile);
            if (File.Exists(keyPath))
            {
                return Task.FromResult(UsageCheckedAction.Usage("cert init", [$"{keyPath} exists already: a CA is there (certificates it issued would no longer be trusted if it were replaced); choose another DIR or remove it first"]));
            }

            try
            {
                Directory.CreateDirectory(path);
                DateTimeOffset now = DateTimeOffset.UtcNow;
                using X509Certificate2 ca = MeshCertificates.CreateCa(parse.GetValue(name)!, now.AddMinutes(-5), now.AddDays(valid));
                MeshCertificates.Write(ca, Path.Combine(path, MeshCertificates.CaCertFile), keyPath);
                StandardOutput.WriteLine($"made a mesh CA in {path}: {MeshCertificates.CaCertFile} (give it to every node), {MeshCertificates.CaKeyFile} (mode 0600; keep it off the nodes); valid until {ca.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
                return Task.FromResult(0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                StandardError.WriteLine($"kaze cert init: cannot write {path}: {e.Message}");
                return Task.FromResult(1);
            }
        });
        return init;
    }

    private static Command CreateIssue()
    {
        var ca = new Option<string>("--ca") { Description = "The CA's directory (made by `kaze cert init`): ca.crt and ca.key.", Required = true };
        var ident = new Option<string>("--ident") { Description = "The node's ident, e.g. 0.0.0.2; bound in the certificate as the URI name kaze://ident/0.0.0.2.", Required = true };
        var names = new Option<string[]>("--name") { Description = "A service name the node serves (repeatable); bound as kaze://name/NAME.", AllowMultipleArgumentsPerToken = false };
        var relay = new Option<bool>("--relay") { Description = "Allow the node to relay packets of other nodes (bound as kaze://relay): a peer's packet whose srcIdent is not the peer's ident is dropped otherwise. [default: false]" };
        var days = new Option<int>("--days") { Description = "Days the certificate is valid (never beyond the CA). [default: 365]", DefaultValueFactory = _ => 365 };
        var output = new Option<string>("--out") { Description = "The node's TLS directory (created if missing; give it to --tls): node.crt, node.key (mode 0600) and a copy of ca.crt.", Required = true };
        var issue = new Command(
            "issue",
            "Issue a node certificate signed by the mesh CA, binding the node's ident (and service names), into the node's TLS directory: node.crt, node.key (mode 0600) and ca.crt, ready for `--tls DIR`. " +
            "Files there are replaced (a running sidecar picks them up: rotation without restart). Exit codes: 0 issued; 1 files cannot be read or written; 2 bad options or an unusable CA.")
        {
            ca, ident, names, relay, days, output,
        };
        issue.Action = new UsageCheckedAction("cert issue", (parse, ct) =>
        {
            var problems = new List<string>();
            if (!Ident.TryParse(parse.GetValue(ident), out Ident node, out string? identError))
            {
                problems.Add($"--ident: {identError}");
            }
            else if (node == Ident.Any)
            {
                problems.Add("--ident: 0.0.0.0 is not a node's ident (it means \"this sidecar's host\" as a destination)");
            }

            int valid = parse.GetValue(days);
            if (valid < 1)
            {
                problems.Add($"--days must be at least 1, not {valid}");
            }

            string[] serviceNames = parse.GetValue(names) ?? [];
            foreach (string serviceName in serviceNames)
            {
                if (serviceName.Length == 0 || serviceName.Length > 253 || serviceName.Any(char.IsControl))
                {
                    problems.Add($"--name '{serviceName}': 1 to 253 characters, no control characters");
                }
            }

            string caDir = parse.GetValue(ca)!;
            X509Certificate2? authority = null;
            if (problems.Count == 0 && !TryLoadCa(caDir, out authority, out string? caProblem))
            {
                problems.Add(caProblem);
            }

            if (problems.Count > 0)
            {
                return Task.FromResult(UsageCheckedAction.Usage("cert issue", problems));
            }

            string outDir = parse.GetValue(output)!;
            using (authority)
            {
                try
                {
                    Directory.CreateDirectory(outDir);
                    DateTimeOffset now = DateTimeOffset.UtcNow;
                    using X509Certificate2 issued = MeshCertificates.Issue(authority!, node, serviceNames, parse.GetValue(relay), now.AddMinutes(-5), now.AddDays(valid));
                    string caCopy = Path.Combine(outDir, MeshCertificates.CaCertFile);
                    if (!string.Equals(Path.GetFullPath(caCopy), Path.GetFullPath(Path.Combine(caDir, MeshCertificates.CaCertFile)), StringComparison.Ordinal))
                    {
                        File.Copy(Path.Combine(caDir, MeshCertificates.CaCertFile), caCopy, overwrite: true);
                    }

                    MeshCertificates.Write(issued, Path.Combine(outDir, MeshCertificates.NodeCertFile), Path.Combine(outDir, MeshCertificates.NodeKeyFile));
                    StandardOutput.WriteLine($"issued a certificate for ident {node} in {outDir}: {MeshCertificates.NodeCertFile}, {MeshCertificates.NodeKeyFile} (mode 0600), {MeshCertificates.CaCertFile}; valid until {issued.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC; use it with --tls {outDir}");
                    return Task.FromResult(0);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    StandardError.WriteLine($"kaze cert issue: cannot write {outDir}: {e.Message}");
                    return Task.FromResult(1);
                }
            }
        });
        return issue;
    }

    private static Command CreateShow()
    {
        var file = new Argument<string>("FILE") { Description = "A certificate file (PEM), e.g. node.crt or ca.crt." };
        var show = new Command(
            "show",
            "Print what a certificate says: subject, issuer, validity, whether it is a CA, and the kaze identity it binds (ident, service names, relay), and its SHA-256 fingerprint. Exit codes: 0 printed; 1 not readable or not a certificate.")
        {
            file,
        };
        show.Action = new UsageCheckedAction("cert show", (parse, ct) =>
        {
            string path = parse.GetValue(file)!;
            X509Certificate2 certificate;
            try
            {
                certificate = X509Certificate2.CreateFromPem(File.ReadAllText(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                StandardError.WriteLine($"kaze cert show: {path}: not a readable PEM certificate: {e.Message}");
                return Task.FromResult(1);
            }

            using (certificate)
            {
                StandardOutput.Writer.Write(Describe(certificate));
            }

            return Task.FromResult(0);
        });
        return show;
    }

    internal static string Describe(X509Certificate2 certificate)
    {
        MeshIdentity identity = MeshCertificates.ReadIdentity(certificate);
        bool isCa = certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
        DateTime now = DateTime.UtcNow;
        string state = now < certificate.NotBefore.ToUniversalTime() ? "not yet valid" : now > certificate.NotAfter.ToUniversalTime() ? "EXPIRED" : "valid";
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"subject:     {certificate.Subject}\n");
        text.Append(CultureInfo.InvariantCulture, $"issuer:      {certificate.Issuer}\n");
        text.Append(CultureInfo.InvariantCulture, $"serial:      {certificate.SerialNumber}\n");
        text.Append(CultureInfo.InvariantCulture, $"not before:  {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC\n");
        text.Append(CultureInfo.InvariantCulture, $"not after:   {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC ({state})\n");
        text.Append(CultureInfo.InvariantCulture, $"ca:          {(isCa ? "yes" : "no")}\n");
        text.Append(CultureInfo.InvariantCulture, $"ident:       {(identity.Ident is { } ident ? ident.ToString() : "none")}\n");
        text.Append(CultureInfo.InvariantCulture, $"names:       {(identity.Names.Count == 0 ? "none" : string.Join(", ", identity.Names))}\n");
        text.Append(CultureInfo.InvariantCulture, $"relay:       {(identity.Relay ? "yes" : "no")}\n");
        text.Append(CultureInfo.InvariantCulture, $"sha256:      {Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256))}\n");
        return text.ToString();
    }

    private static bool TryLoadCa(string dir, out X509Certificate2? ca, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        ca = null;
        string certPath = Path.Combine(dir, MeshCertificates.CaCertFile);
        string keyPath = Path.Combine(dir, MeshCertificates.CaKeyFile);
        try
        {
            ca = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            problem = $"--ca {dir}: cannot load {certPath} with {keyPath} (made by `kaze cert init {dir}`): {e.Message}";
            return false;
        }

        if (!ca.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            ca.Dispose();
            ca = null;
            problem = $"--ca {dir}: {certPath} is not a CA certificate";
            return false;
        }

        if (ca.NotAfter.ToUniversalTime() <= DateTime.UtcNow)
        {
            DateTime expired = ca.NotAfter.ToUniversalTime();
            ca.Dispose();
            ca = null;
            problem = $"--ca {dir}: the CA expired on {expired:yyyy-MM-dd}";
            return false;
        }

        problem = null;
        return true;
    }
}
