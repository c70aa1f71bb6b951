using System.Diagnostics;
using System.Net;
using System.Text;
using System.Threading.Channels;

namespace Kaze.Mesh.Tests.Infrastructure;

/// <summary>
/// tests/Kaze.MeshAttacker running as a process of its own against a corral: its sockets and
/// threads are not the test runner's. Its stdout lines are collected; closing its stdin (dispose)
/// ends it.
/// </summary>
internal sealed class Attacker : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stderr = new();

    private Attacker(Process process)
    {
        _process = process;
    }

    public static Attacker Start(IPEndPoint target, string command, params object[] args)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Join(AppContext.BaseDirectory, "Kaze.MeshAttacker.dll"));
        info.ArgumentList.Add(command);
        info.ArgumentList.Add(target.Address.ToString());
        info.ArgumentList.Add(target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (object arg in args)
        {
            info.ArgumentList.Add(Convert.ToString(arg, System.Globalization.CultureInfo.InvariantCulture)!);
        }

        var process = new Process { StartInfo = info };
        var attacker = new Attacker(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                attacker._lines.Writer.TryComplete();
            }
            else
            {
                attacker._lines.Writer.TryWrite(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (attacker._stderr)
                {
                    attacker._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return attacker;
    }

    public int Pid => _process.Id;

    /// <summary>The next line the attacker prints, split into words; fails after <paramref name="timeout"/> naming <paramref name="what"/>.</summary>
    public async Task<string[]> ReadLineAsync(string what, TimeSpan? timeout = null)
    {
        try
        {
            string line = await _lines.Reader.ReadAsync().AsTask().Within(what, timeout ?? Deadline.Long, Describe);
            return line.Split(' ');
        }
        catch (ChannelClosedException)
        {
            throw new Xunit.Sdk.XunitException($"The attacker ended before {what}. {Describe()}");
        }
    }

    public void Send(string line)
    {
        _process.StandardInput.Write(line + "\n");
        _process.StandardInput.Flush();
    }

    public string Describe()
    {
        lock (_stderr)
        {
            return $"attacker pid {_process.Id}, stderr: {_stderr}";
        }
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException)
        {
        }

        _process.Dispose();
    }

    /// <summary>The dotnet muxer that runs these tests, to run the attacker with.</summary>
    private static string DotnetHost
    {
        get
        {
            string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (!string.IsNullOrEmpty(host) && File.Exists(host))
            {
                return host;
            }

            string? self = Environment.ProcessPath;
            return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
    }
}
