using Xunit;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace EvoQuant.Tests.Quantization.Helpers;

/// <summary>Minimal test-only .npy reader (little-endian, C order) for float32 and int64 arrays.</summary>
internal static class TestNpy
{
    public static (float[] Data, long[] Shape) ReadFloats(string path)
    {
        var (bytes, offset, shape, descr) = Read(path);
        Assert.Equal("<f4", descr);
        return (MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset)).ToArray(), shape);
    }

    public static long[] ReadInt64(string path)
    {
        var (bytes, offset, _, descr) = Read(path);
        Assert.Equal("<i8", descr);
        return MemoryMarshal.Cast<byte, long>(bytes.AsSpan(offset)).ToArray();
    }

    private static (byte[] Bytes, int Offset, long[] Shape, string Descr) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int headerLength = BitConverter.ToUInt16(bytes, 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        string descr = Regex.Match(header, @"'descr':\s*'([^']+)'").Groups[1].Value;
        var shape = Regex.Match(header, @"'shape':\s*\(([^)]*)\)").Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        return (bytes, 10 + headerLength, shape, descr);
    }
}
