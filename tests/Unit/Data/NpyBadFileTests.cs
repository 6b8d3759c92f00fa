using System.Text;
using EvoQuant.Data;
using Xunit;

namespace EvoQuant.Tests.Data;

public class NpyBadFileTests
{
    private static MemoryStream Npy(string dict, int dataBytes)
    {
        var ms = new MemoryStream();
        ms.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
        int total = 10 + dict.Length + 1, padded = (total + 63) / 64 * 64;
        var header = Encoding.ASCII.GetBytes(dict + new string(' ', padded - total) + "\n");
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(header);
        ms.Write(new byte[dataBytes]);
        ms.Position = 0;
        return ms;
    }

    private static SampleFormatException Fails(Stream s) =>
        Assert.Throws<SampleFormatException>(() => NpyReader.Read(s, "bad.npy", streamLength: s.Length));

    [Fact]
    public void Big_endian_is_rejected_with_the_reason()
    {
        var e = Fails(Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8));
        Assert.Contains("big-endian", e.Message);
        Assert.Contains("bad.npy", e.Message);
        Assert.Equal("bad.npy", e.SourceName);
    }

    [Fact]
    public void Fortran_order_is_rejected() =>
        Assert.Contains("Fortran", Fails(Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16)).Message);

    [Fact]
    public void Object_dtype_is_rejected() =>
        Assert.Contains("objects", Fails(Npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16)).Message);

    [Fact]
    public void Structured_dtype_is_rejected() =>
        Assert.Contains("structured", Fails(Npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)).Message);

    [Fact]
    public void Truncated_data_is_rejected() =>
        Assert.Contains("truncated", Fails(Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", 12)).Message);

    [Fact]
    public void Truncated_header_is_rejected()
    {
        var full = Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", 40).ToArray();
        Assert.Contains("truncated", Fails(new MemoryStream(full[..30])).Message);
    }

    [Fact]
    public void Bad_magic_is_rejected() =>
        Assert.Contains("magic", Fails(new MemoryStream(Encoding.ASCII.GetBytes("PK\x03\x04 this is not an npy file at all"))).Message);

    [Fact]
    public void Missing_file_is_a_sample_format_error() =>
        Assert.Throws<SampleFormatException>(() => NpyReader.Read(Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid() + ".npy")));
}
