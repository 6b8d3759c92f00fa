using System.Runtime.InteropServices;
using EvoQuant.Onnx;

namespace EvoQuant.Data;

/// <summary>Maps ONNX element types to the .NET arrays that hold them, and converts between them and
/// little-endian bytes. Half is stored as <see cref="System.Half"/>; bool as one byte per element.</summary>
internal static class TypedArrays
{
    public static Type? ClrType(int elementType) => elementType switch
    {
        ElementTypes.Float => typeof(float),
        ElementTypes.Double => typeof(double),
        ElementTypes.Float16 => typeof(Half),
        ElementTypes.Int64 => typeof(long),
        ElementTypes.Int32 => typeof(int),
        ElementTypes.Int16 => typeof(short),
        ElementTypes.Int8 => typeof(sbyte),
        ElementTypes.UInt8 => typeof(byte),
        ElementTypes.UInt16 => typeof(ushort),
        ElementTypes.UInt32 => typeof(uint),
        ElementTypes.UInt64 => typeof(ulong),
        ElementTypes.Bool => typeof(bool),
        _ => null,
    };

    public static int ElementTypeOf(Type t) =>
        t == typeof(float) ? ElementTypes.Float :
        t == typeof(double) ? ElementTypes.Double :
        t == typeof(Half) ? ElementTypes.Float16 :
        t == typeof(long) ? ElementTypes.Int64 :
        t == typeof(int) ? ElementTypes.Int32 :
        t == typeof(short) ? ElementTypes.Int16 :
        t == typeof(sbyte) ? ElementTypes.Int8 :
        t == typeof(byte) ? ElementTypes.UInt8 :
        t == typeof(ushort) ? ElementTypes.UInt16 :
        t == typeof(uint) ? ElementTypes.UInt32 :
        t == typeof(ulong) ? ElementTypes.UInt64 :
        t == typeof(bool) ? ElementTypes.Bool : 0;

    public static int ItemSize(int elementType) => ElementTypes.BitsPerElement(elementType) / 8;

    public static bool IsFloat(int elementType) => elementType is ElementTypes.Float or ElementTypes.Double or ElementTypes.Float16 or ElementTypes.BFloat16;

    public static bool IsInteger(int elementType) => elementType is ElementTypes.Int64 or ElementTypes.Int32 or ElementTypes.Int16 or ElementTypes.Int8
        or ElementTypes.UInt8 or ElementTypes.UInt16 or ElementTypes.UInt32 or ElementTypes.UInt64;

    public static Array Create(int elementType, long length)
    {
        var t = ClrType(elementType) ?? throw new NotSupportedException($"Element type {ElementTypes.Name(elementType)} is not supported for samples.");
        return Array.CreateInstance(t, checked((int)length));
    }

    /// <summary>A new typed array holding a copy of little-endian raw bytes.</summary>
    public static Array FromBytes(ReadOnlySpan<byte> raw, int elementType)
    {
        int size = ItemSize(elementType);
        var array = Create(elementType, raw.Length / size);
        raw.CopyTo(AsBytes(array));
        return array;
    }

    /// <summary>The bytes of a typed 1-D array (a view, no copy).</summary>
    public static Span<byte> AsBytes(Array a) => a switch
    {
        float[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        double[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        Half[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        long[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        int[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        short[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        sbyte[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        byte[] x => x.AsSpan(),
        ushort[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        uint[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        ulong[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        bool[] x => MemoryMarshal.AsBytes(x.AsSpan()),
        _ => throw new NotSupportedException($"Arrays of {a.GetType().GetElementType()} are not supported for samples."),
    };

    /// <summary>Converts every element to double (for type conversions and tests).</summary>
    public static double GetDouble(Array a, int i) => a switch
    {
        float[] x => x[i],
        double[] x => x[i],
        Half[] x => (double)x[i],
        long[] x => x[i],
        int[] x => x[i],
        short[] x => x[i],
        sbyte[] x => x[i],
        byte[] x => x[i],
        ushort[] x => x[i],
        uint[] x => x[i],
        ulong[] x => x[i],
        bool[] x => x[i] ? 1 : 0,
        _ => throw new NotSupportedException(),
    };

    /// <summary>A copy of <paramref name="a"/> converted to <paramref name="elementType"/> (numeric conversion, C# cast semantics).</summary>
    public static Array Convert(Array a, int elementType)
    {
        if (ElementTypeOf(a.GetType().GetElementType()!) == elementType) return a;
        var dst = Create(elementType, a.Length);
        switch (dst)
        {
            case float[] f when a is double[] d:
                for (int i = 0; i < d.Length; i++) f[i] = (float)d[i];
                break;
            case float[] f when a is Half[] h:
                for (int i = 0; i < h.Length; i++) f[i] = (float)h[i];
                break;
            case float[] f:
                for (int i = 0; i < f.Length; i++) f[i] = (float)GetDouble(a, i);
                break;
            case double[] d:
                for (int i = 0; i < d.Length; i++) d[i] = GetDouble(a, i);
                break;
            case Half[] h:
                for (int i = 0; i < h.Length; i++) h[i] = (Half)GetDouble(a, i);
                break;
            case long[] l when a is int[] s:
                for (int i = 0; i < s.Length; i++) l[i] = s[i];
                break;
            default:
                for (int i = 0; i < a.Length; i++) dst.SetValue(System.Convert.ChangeType(GetDouble(a, i), dst.GetType().GetElementType()!), i);
                break;
        }
        return dst;
    }
}
