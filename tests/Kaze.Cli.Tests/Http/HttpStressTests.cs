using System.Globalization;
using System.Security.Cryptography;
using Kaze.Cli.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Http;

/// <summary>
/// Large bodies through two sidecars with default rings and windows: 50 MB down from python's
/// http.server and 50 MB up to an app, checked end to end by SHA-256, and 100 MB each way while
/// each sidecar's memory is watched (docs/http.md, "Limits").
/// </summary>
[Collection(HttpCollection.Name)]
[Trait("Category", "Stress")]
public sealed class HttpStressTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Transfer = TimeSpan.FromMinutes(2);
    private readonly HttpPair _pair = HttpPair.Create();

    public void Dispose() => _pair.Dispose();

    [Fact]
    public async Task Download50MB_FromPython_ChecksumMatches()
    {
        string file = Path.Combine(_pair.Files, "big.bin");
        byte[] expected = await WriteRandomFileAsync(file, 50_000_000);
        await _pair.StartAsync(CalleeApp.Python);
        string copy = Path.Combine(_pair.Directory, "copy.bin");

        (int code, string stdout, string stderr) = await Curl.RunAsync(["-o", copy, "-w", "%{http_code} %{speed_download}", _pair.CalleeUrl + "/big.bin"], "downloading 50 MB from python through two sidecars", Transfer);

        Assert.True(code == 0, $"curl failed ({code}): {stderr}");
        output.WriteLine("status and bytes/s: " + stdout);
        Assert.StartsWith("200 ", stdout);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(await HashFileAsync(copy)));
    }

    [Fact]
    public async Task Upload50MB_ToAnApp_ChecksumMatches()
    {
        string file = Path.Combine(_pair.Directory, "up.bin");
        byte[] expected = await WriteRandomFileAsync(file, 50_000_000);
        await _pair.StartAsync(CalleeApp.TestApp);

        (int code, string stdout, string stderr) = await Curl.RunAsync(["--data-binary", "@" + file, "-w", "\n%{speed_upload}", _pair.CalleeUrl + "/sha256"], "posting 50 MB through two sidecars", Transfer);

        Assert.True(code == 0, $"curl failed ({code}): {stderr}");
        string[] lines = stdout.Split('\n');
        output.WriteLine("bytes/s: " + lines[1]);
        Assert.Equal(Convert.ToHexStringLower(expected) + " 50000000", lines[0]);
    }

    [Fact]
    public async Task HundredMB_EachWay_MemoryOfEachSidecarStaysBounded()
    {
        await _pair.StartAsync(CalleeApp.TestApp);
        using var client = new HttpClient { Timeout = Transfer };
        // A first transfer each way: what the JIT and the pools take once is not growth.
        await DownloadAsync(client, 8_000_000);
        await UploadAsync(client, 8_000_000);

        (long aDown, long bDown) = await WatchAsync(() => DownloadAsync(client, 100_000_000));
        (long aUp, long bUp) = await WatchAsync(() => UploadAsync(client, 100_000_000));

        output.WriteLine($"RSS growth in MB, caller/callee: down {aDown / 1e6:0.0}/{bDown / 1e6:0.0}, up {aUp / 1e6:0.0}/{bUp / 1e6:0.0}");
        foreach ((string what, long growth) in new[] { ("the caller's, down", aDown), ("the callee's, down", bDown), ("the caller's, up", aUp), ("the callee's, up", bUp) })
        {
            Assert.True(growth <= 64_000_000, $"{what}: the sidecar's memory grew {growth / 1e6:0.0} MB during a 100 MB transfer (bound: 64 MB)");
        }
    }

    private async Task DownloadAsync(HttpClient client, long length)
    {
        using HttpResponseMessage response = await client.GetAsync($"{_pair.CalleeUrl}/bytes/{length}", HttpCompletionOption.ResponseHeadersRead).Within("the head of a large download");
        await using Stream body = await response.Content.ReadAsStreamAsync();
        byte[] buffer = new byte[256 * 1024];
        byte[] expected = new byte[buffer.Length];
        long at = 0;
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0)
        {
            AppPattern.Fill(expected.AsSpan(0, n), at);
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(expected.AsSpan(0, n)), $"bytes {at}-{at + n} differ from the app's pattern");
            at += n;
        }

        Assert.Equal(length, at);
    }

    private async Task UploadAsync(HttpClient client, long length)
    {
        using var content = new StreamContent(new PatternStream(length), 256 * 1024);
        content.Headers.ContentLength = length;
        using HttpResponseMessage response = await client.PostAsync(_pair.CalleeUrl + "/sha256", content).Within("a large upload", Transfer);
        string answer = await response.Content.ReadAsStringAsync();
        Assert.EndsWith(" " + length.ToString(CultureInfo.InvariantCulture), answer);
    }

    /// <summary>Runs <paramref name="transfer"/> while sampling both sidecars' RSS; each one's largest growth.</summary>
    private async Task<(long Caller, long Callee)> WatchAsync(Func<Task> transfer)
    {
        long callerBefore = Rss(_pair.Caller.Pid);
        long calleeBefore = Rss(_pair.Callee.Pid);
        long callerPeak = callerBefore;
        long calleePeak = calleeBefore;
        using var stop = new CancellationTokenSource();
        Task sampling = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            while (await timer.WaitForNextTickAsync(stop.Token).AsTask().ContinueWith(t => !t.IsCanceled))
            {
                callerPeak = Math.Max(callerPeak, Rss(_pair.Caller.Pid));
                calleePeak = Math.Max(calleePeak, Rss(_pair.Callee.Pid));
            }
        });
        try
        {
            await transfer().Within("a 100 MB transfer", Transfer);
        }
        finally
        {
            await stop.CancelAsync();
            await sampling;
        }

        return (callerPeak - callerBefore, calleePeak - calleeBefore);
    }

    private static long Rss(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS for {pid}");
    }

    private static async Task<byte[]> WriteRandomFileAsync(string path, int length)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using FileStream file = File.Create(path);
        byte[] chunk = new byte[1 << 20];
        for (int at = 0; at < length; at += chunk.Length)
        {
            int n = Math.Min(chunk.Length, length - at);
            RandomNumberGenerator.Fill(chunk.AsSpan(0, n));
            sha.AppendData(chunk, 0, n);
            await file.WriteAsync(chunk.AsMemory(0, n));
        }

        return sha.GetHashAndReset();
    }

    private static async Task<byte[]> HashFileAsync(string path)
    {
        await using FileStream file = File.OpenRead(path);
        return await SHA256.HashDataAsync(file);
    }

    /// <summary>The app's pattern as an upload body, <paramref name="size"/> bytes, never all in memory.</summary>
    private sealed class PatternStream(long size) : Stream
    {
        private readonly long _size = size;
        private long _at;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _size;

        public override long Position
        {
            get => _at;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, _size - _at);
            AppPattern.Fill(buffer.AsSpan(offset, n), _at);
            _at += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
