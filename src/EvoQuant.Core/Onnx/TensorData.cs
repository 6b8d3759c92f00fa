using System.Buffers.Binary;
using System.Runtime.InteropServices;
using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Onnx;

/// <summary>Reads and writes the data of a <see cref="TensorProto"/>, whichever of its encodings it uses
/// (raw_data, the typed repeated fields, or external data resolved by the model).</summary>
public static class TensorData
{
    /// <summary>Number of elements the dims describe (1 for a scalar).</summary>
    public static long ElementCount(IEnumerable<long> dims)
    {
        long n = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension {d}.");
            n = checked(n * d);
        }
        return n;
    }

    public static long ElementCount(TensorProto t) => ElementCount(t.Dims);

    /// <summary>Whether the tensor's bytes live in a side file.</summary>
    public static bool IsExternal(TensorProto t) =>
        t.HasDataLocation && t.DataLocation == TensorProto.Types.DataLocation.External;

    /// <summary>Makes <paramref name="t"/> name <paramref name="length"/> bytes at <paramref name="offset"/> of the
    /// side file <paramref name="location"/>, dropping the bytes it held.</summary>
    public static void MarkExternal(TensorProto t, string location, long offset, long length)
    {
        t.ClearRawData();
        t.FloatData.Clear(); t.Int32Data.Clear(); t.Int64Data.Clear(); t.DoubleData.Clear(); t.Uint64Data.Clear();
        t.ExternalData.Clear();
        t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.LocationKey, Value = location });
        t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.OffsetKey, Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        t.ExternalData.Add(new StringStringEntryProto { Key = ExternalDataInfo.LengthKey, Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        t.DataLocation = TensorProto.Types.DataLocation.External;
    }

    /// <summary>The little-endian raw bytes of a tensor of fixed-size elements, converting the typed
    /// fields when raw_data is not used. External tensors are read through <paramref name="externalReader"/>.</summary>
    public static byte[] GetRawBytes(TensorProto t, Func<TensorProto, byte[]>? externalReader = null)
    {
        if (IsExternal(t))
        {
            if (externalReader == null)
                throw new InvalidOperationException($"Tensor '{t.Name}' keeps its data in an external file; read it through its model.");
            return externalReader(t);
        }
        if (t.HasRawData) return t.RawData.ToByteArray();

        long count = ElementCount(t);
        int type = t.DataType;
        long size = ElementTypes.RawByteCount(type, count);
        if (size < 0) throw new NotSupportedException($"Tensor '{t.Name}' of type {ElementTypes.Name(type)} has no fixed-size encoding.");
        var bytes = new byte[size];
        var span = bytes.AsSpan();
        switch (type)
        {
            case ElementTypes.Float:
                MemoryMarshal.AsBytes(t.FloatData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ElementTypes.Double:
                MemoryMarshal.AsBytes(t.DoubleData.ToArray().AsSpan()).CopyTo(span);
                break;
            case ElementTypes.Int64:
                MemoryMarshal.AsBytes(t.Int64Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ElementTypes.UInt32:
                for (int i = 0; i < t.Uint64Data.Count; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], (uint)t.Uint64Data[i]);
                break;
            case ElementTypes.UInt64:
                MemoryMarshal.AsBytes(t.Uint64Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ElementTypes.Int32:
                MemoryMarshal.AsBytes(t.Int32Data.ToArray().AsSpan()).CopyTo(span);
                break;
            case ElementTypes.Int16 or ElementTypes.UInt16 or ElementTypes.Float16 or ElementTypes.BFloat16:
                // 16-bit types store one element per int32_data entry (the low 16 bits).
                for (int i = 0; i < t.Int32Data.Count; i++) BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], (ushort)t.Int32Data[i]);
                break;
            case ElementTypes.Int4 or ElementTypes.UInt4 or 23:
                // 4-bit types store two packed elements per int32_data entry.
                for (int i = 0; i < t.Int32Data.Count && i < span.Length; i++) span[i] = (byte)t.Int32Data[i];
                break;
            default: // 8-bit types (int8, uint8, bool, float8): one element per int32_data entry.
                for (int i = 0; i < t.Int32Data.Count; i++) span[i] = (byte)t.Int32Data[i];
                break;
        }
        return bytes;
    }

    /// <summary>The tensor as float32 values (converting float16, float64 and integer types).</summary>
    public static float[] ToFloatArray(TensorProto t, Func<TensorProto, byte[]>? externalReader = null)
    {
        if (!IsExternal(t) && !t.HasRawData && t.DataType == ElementTypes.Float) return t.FloatData.ToArray();
        return BytesToFloats(GetRawBytes(t, externalReader), t.DataType);
    }

    /// <summary>Converts little-endian raw bytes of a numeric element type to float32.</summary>
    public static float[] BytesToFloats(ReadOnlySpan<byte> raw, int dataType)
    {
        switch (dataType)
        {
            case ElementTypes.Float: return MemoryMarshal.Cast<byte, float>(raw).ToArray();
            case ElementTypes.Float16:
                {
                    var h = MemoryMarshal.Cast<byte, Half>(raw);
                    var f = new float[h.Length];
                    for (int i = 0; i < f.Length; i++) f[i] = (float)h[i];
                    return f;
                }
            case ElementTypes.Double: return Convert(MemoryMarshal.Cast<byte, double>(raw), v => (float)v);
            case ElementTypes.Int64: return Convert(MemoryMarshal.Cast<byte, long>(raw), v => v);
            case ElementTypes.Int32: return Convert(MemoryMarshal.Cast<byte, int>(raw), v => v);
            case ElementTypes.Int16: return Convert(MemoryMarshal.Cast<byte, short>(raw), v => v);
            case ElementTypes.UInt16: return Convert(MemoryMarshal.Cast<byte, ushort>(raw), v => v);
            case ElementTypes.Int8: return Convert(MemoryMarshal.Cast<byte, sbyte>(raw), v => v);
            case ElementTypes.UInt8 or ElementTypes.Bool: return Convert(raw, v => v);
            default: throw new NotSupportedException($"Cannot convert {ElementTypes.Name(dataType)} to float32.");
        }
    }

    private static float[] Convert<T>(ReadOnlySpan<T> src, Func<T, float> f)
    {
        var dst = new float[src.Length];
        for (int i = 0; i < dst.Length; i++) dst[i] = f(src[i]);
        return dst;
    }

    /// <summary>A float32 tensor in raw_data encoding.</summary>
    public static TensorProto FromFloats(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values) =>
        FromRaw(name, ElementTypes.Float, dims, MemoryMarshal.AsBytes(values));

    /// <summary>A tensor of any fixed-size element type from its little-endian raw bytes.</summary>
    public static TensorProto FromRaw(string name, int dataType, ReadOnlySpan<long> dims, ReadOnlySpan<byte> raw)
    {
        var t = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(raw) };
        foreach (long d in dims) t.Dims.Add(d);
        return t;
    }

    /// <summary>A tensor over <paramref name="raw"/> itself, without a copy: the caller hands the array over
    /// and must never change it (a quantized weight kept for reuse is then stored once, not twice).</summary>
    public static TensorProto FromOwnedRaw(string name, int dataType, ReadOnlySpan<long> dims, byte[] raw)
    {
        var t = new TensorProto { Name = name, DataType = dataType, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        foreach (long d in dims) t.Dims.Add(d);
        return t;
    }

    /// <summary>A tensor from an unmanaged array (int8 weights, int32 biases, int64 shapes ...).</summary>
    public static TensorProto FromArray<T>(string name, int dataType, ReadOnlySpan<long> dims, ReadOnlySpan<T> values) where T : unmanaged =>
        FromRaw(name, dataType, dims, MemoryMarshal.AsBytes(values));

    /// <summary>A scalar (rank 0) tensor.</summary>
    public static TensorProto Scalar<T>(string name, int dataType, T value) where T : unmanaged =>
        FromArray(name, dataType, ReadOnlySpan<long>.Empty, new[] { value });

    /// <summary>Checks that the data a tensor carries matches its declared dims and type; returns a
    /// description of the mismatch, or null when it agrees. External tensors are checked by the model.</summary>
    public static string? DescribeSizeMismatch(TensorProto t)
    {
        if (IsExternal(t)) return null;
        long count;
        try { count = ElementCount(t); }
        catch (Exception e) when (e is ArgumentException or OverflowException) { return $"its dims [{string.Join(",", t.Dims)}] are not valid"; }

        int type = t.DataType;
        if (type == ElementTypes.String) return t.StringData.Count == count || (count > 0 && t.StringData.Count == 0 && t.HasRawData) ? null : $"it declares {count} strings but holds {t.StringData.Count}";
        long expectedBytes = ElementTypes.RawByteCount(type, count);
        if (expectedBytes < 0) return null; // types we do not size (complex, unknown) are left alone
        if (t.HasRawData)
            return t.RawData.Length == expectedBytes ? null : $"its dims [{string.Join(",", t.Dims)}] of {ElementTypes.Name(type)} need {expectedBytes} bytes but raw_data has {t.RawData.Length}";

        long held = type switch
        {
            ElementTypes.Float => t.FloatData.Count,
            ElementTypes.Double => t.DoubleData.Count,
            ElementTypes.Int64 => t.Int64Data.Count,
            ElementTypes.UInt32 or ElementTypes.UInt64 => t.Uint64Data.Count,
            ElementTypes.Int4 or ElementTypes.UInt4 or 23 => t.Int32Data.Count * 2L,
            _ => t.Int32Data.Count,
        };
        bool fourBit = type is ElementTypes.Int4 or ElementTypes.UInt4 or 23;
        bool ok = fourBit ? held == count || held == count + 1 : held == count;
        return ok ? null : $"its dims [{string.Join(",", t.Dims)}] declare {count} elements of {ElementTypes.Name(type)} but it holds {held}";
    }
}
