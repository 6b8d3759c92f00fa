using System.Runtime.InteropServices;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Tests.Numerics;

/// <summary>Turns a TensorProto (raw_data or typed fields) into a flat array, for the conformance tests.</summary>
internal static class TensorProtoArrays
{
    public static TensorProto Load(string path) => TensorProto.Parser.ParseFrom(File.ReadAllBytes(path));

    public static long[] Shape(TensorProto t) => t.Dims.ToArray();

    public static long ElementCount(TensorProto t) => t.Dims.Aggregate(1L, (a, d) => a * d);

    public static float[] Floats(TensorProto t)
    {
        if (t.DataType != 1) throw new InvalidDataException($"Tensor '{t.Name}' is type {t.DataType}, not FLOAT.");
        return t.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray();
    }

    /// <summary>Integer tensors of any width (2,3,4,5,6,21,22) widened to int; 4-bit ones unpacked.</summary>
    public static int[] Ints(TensorProto t)
    {
        long n = ElementCount(t);
        var raw = t.RawData.ToByteArray();
        if (raw.Length > 0)
        {
            return t.DataType switch
            {
                2 => raw.Select(b => (int)b).ToArray(),
                3 => MemoryMarshal.Cast<byte, sbyte>(raw.AsSpan()).ToArray().Select(b => (int)b).ToArray(),
                4 => MemoryMarshal.Cast<byte, ushort>(raw.AsSpan()).ToArray().Select(v => (int)v).ToArray(),
                5 => MemoryMarshal.Cast<byte, short>(raw.AsSpan()).ToArray().Select(v => (int)v).ToArray(),
                6 => MemoryMarshal.Cast<byte, int>(raw.AsSpan()).ToArray(),
                21 or 22 => Enumerable.Range(0, (int)n).Select(i => Nibble(raw[i / 2], i, t.DataType == 22)).ToArray(),
                _ => throw new InvalidDataException($"Unsupported integer type {t.DataType}."),
            };
        }
        // Typed storage: all of these live in int32_data, 4-bit ones packed two per int32 entry.
        var data = t.Int32Data.ToArray();
        return t.DataType is 21 or 22
            ? Enumerable.Range(0, (int)n).Select(i => Nibble((byte)data[i / 2], i, t.DataType == 22)).ToArray()
            : data;
    }

    /// <summary>Raw packed bytes of a 4-bit tensor.</summary>
    public static byte[] PackedInt4(TensorProto t) =>
        t.RawData.Length > 0 ? t.RawData.ToByteArray() : t.Int32Data.Select(v => (byte)v).ToArray();

    private static int Nibble(byte b, int i, bool signed)
    {
        int v = (b >> (i % 2 * 4)) & 0xF;
        return signed && v >= 8 ? v - 16 : v;
    }
}
