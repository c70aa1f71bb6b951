using System.Buffers.Binary;
using System.Text;
using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>
/// Files that are not usable channels, written by hand to /dev/shm/kaze-&lt;unique&gt;: Open refuses
/// each with a ChannelFormatException whose message names the file, the field and the expected value.
/// </summary>
public sealed class ShmChannelFormatTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Fact]
    public void Open_WrongMagic_ThrowsFormatExceptionNamingMagicAndKazechan()
    {
        byte[] file = Valid();
        "NOTKAZE!"u8.CopyTo(file);

        ChannelFormatException e = OpenFails(file, "magic", "4E414843455A414B");

        Assert.Contains("offset 0", e.Field, StringComparison.Ordinal);
        Assert.Contains("KAZECHAN", e.Expected, StringComparison.Ordinal);
        Assert.Contains(BinaryPrimitives.ReadUInt64LittleEndian("NOTKAZE!"u8).ToString("X16"), e.Actual, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OtherLayoutVersion_ThrowsFormatExceptionExpectingVersion1()
    {
        byte[] file = Valid();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), 2);

        ChannelFormatException e = OpenFails(file, "version", "1");

        Assert.Contains("offset 8", e.Field, StringComparison.Ordinal);
        Assert.Equal("1", e.Expected);
        Assert.Equal("2", e.Actual);
    }

    [Fact]
    public void Open_WrongHeaderSizeField_ThrowsFormatExceptionExpecting4096()
    {
        byte[] file = Valid();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), 2048);

        ChannelFormatException e = OpenFails(file, "header size", "4096");

        Assert.Contains("offset 12", e.Field, StringComparison.Ordinal);
        Assert.Equal("2048", e.Actual);
    }

    [Fact]
    public void Open_FileShorterThanItsHeaderSays_ThrowsFormatExceptionExpectingTheHeaderSize()
    {
        byte[] file = Valid();
        long expected = file.Length;

        ChannelFormatException e = OpenFails(file.AsSpan(0, file.Length - 100).ToArray(), "file size", $"{expected} bytes");

        Assert.Equal($"{expected - 100} bytes", e.Actual);
    }

    [Fact]
    public void Open_FileSizeFieldDisagreesWithTheCapacities_ThrowsFormatExceptionNamingOffset16()
    {
        byte[] file = Valid();
        long expected = file.Length;
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(16), (ulong)expected + 4096);

        ChannelFormatException e = OpenFails(file, "offset 16", expected.ToString());

        Assert.Equal((expected + 4096).ToString(), e.Actual);
    }

    [Fact]
    public void Open_RandomText_ThrowsFormatExceptionNamingTheMagic()
    {
        byte[] text = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("This is not a channel, only some text in /dev/shm. ", 200)));

        OpenFails(text, "magic", "KAZECHAN");
    }

    [Fact]
    public void Open_ShortTextFile_ThrowsFormatExceptionNamingTheFileSize()
    {
        OpenFails("hello\n"u8.ToArray(), "file size", "at least");
    }

    [Fact]
    public void Open_EmptyFile_ThrowsFormatExceptionNamingTheFileSize()
    {
        ChannelFormatException e = OpenFails([], "file size", "at least");

        Assert.Equal("0 bytes", e.Actual);
    }

    [Theory]
    [InlineData(24, 3000, "ring 0 capacity")]
    [InlineData(24, 96, "ring 0 capacity")]
    [InlineData(24, 32, "ring 0 capacity")]
    [InlineData(24, 0, "ring 0 capacity")]
    [InlineData(28, 1000, "ring 1 capacity")]
    [InlineData(28, 0x8000_0000u, "ring 1 capacity")]
    public void Open_CapacityNotAPowerOfTwoFrom64To1GiB_ThrowsFormatExceptionNamingTheRing(int offset, uint capacity, string field)
    {
        byte[] file = Valid();
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset), capacity);

        ChannelFormatException e = OpenFails(file, field, "power of two");

        Assert.Contains($"offset {offset}", e.Field, StringComparison.Ordinal);
        Assert.Equal(capacity.ToString(), e.Actual);
    }

    [Theory]
    [InlineData(32, 8192ul, "ring 0 offset", "4096")]
    [InlineData(40, 4096ul, "ring 1 offset", "8704")]
    public void Open_WrongRingOffset_ThrowsFormatExceptionNamingTheRingOffset(int offset, ulong value, string field, string expected)
    {
        byte[] file = Valid();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(offset), value);

        ChannelFormatException e = OpenFails(file, field, expected);

        Assert.Equal(value.ToString(), e.Actual);
    }

    [Fact]
    public void Open_ValidHandWrittenFile_Attaches()
    {
        // The forged files above differ from this one in one field only.
        string name = _channels.NewName();
        RawChannelFile.Write(ShmChannel.GetPath(name), Valid());

        ShmChannel host = _channels.Open(name);

        Assert.Equal(4096, host.Reader.Capacity);
        Assert.Equal(4096, host.Writer.Capacity);
    }

    [Fact]
    public void ChannelInfoRead_WrongMagic_ThrowsTheSameFormatException()
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        byte[] file = Valid();
        file[0] ^= 0xFF;
        RawChannelFile.Write(path, file);

        var e = Assert.Throws<ChannelFormatException>(() => ChannelInfo.Read(path));

        Assert.Contains("magic", e.Field, StringComparison.Ordinal);
        Assert.Equal(path, e.FilePath);
    }

    /// <summary>A valid channel file (4 KiB rings) whose sidecar is this process.</summary>
    private static byte[] Valid() => RawChannelFile.ValidChannel(4096, 4096, Environment.ProcessId, RawChannelFile.ProcessStartTime(Environment.ProcessId));

    private ChannelFormatException OpenFails(byte[] content, string fieldPart, string expectedPart)
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        RawChannelFile.Write(path, content);

        var e = Assert.Throws<ChannelFormatException>(() => _channels.Open(name));

        Assert.Equal(path, e.FilePath);
        Assert.Contains(fieldPart, e.Field, StringComparison.Ordinal);
        Assert.Contains(expectedPart, e.Expected, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Field, e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Actual, e.Message, StringComparison.Ordinal);
        // Refusing the file must not have attached to it.
        Assert.Equal(content, RawChannelFile.Read(path));
        return e;
    }
}
