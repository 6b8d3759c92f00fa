using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

/// <summary>Facts about ONNX tensor element types (TensorProto.DataType values).</summary>
public static class ElementTypes
{
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int UInt8 = (int)TensorProto.Types.DataType.Uint8;
    public const int Int8 = (int)TensorProto.Types.DataType.Int8;
    public const int UInt16 = (int)TensorProto.Types.DataType.Uint16;
    public const int Int16 = (int)TensorProto.Types.DataType.Int16;
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;
    public const int Int64 = (int)TensorProto.Types.DataType.Int64;
    public const int String = (int)TensorProto.Types.DataType.String;
    public const int Bool = (int)TensorProto.Types.DataType.Bool;
    public const int Float16 = (int)TensorProto.Types.DataType.Float16;
    public const int Double = (int)TensorProto.Types.DataType.Double;
    public const int UInt32 = (int)TensorProto.Types.DataType.Uint32;
    public const int UInt64 = (int)TensorProto.Types.DataType.Uint64;
    public const int BFloat16 = (int)TensorProto.Types.DataType.Bfloat16;
    public const int UInt4 = (int)TensorProto.Types.DataType.Uint4;
    public const int Int4 = (int)TensorProto.Types.DataType.Int4;

    /// <summary>Bits per element, or 0 where the size is not fixed (string) or unknown.</summary>
    public static int BitsPerElement(int dataType) => dataType switch
    {
        1 or 6 or 12 => 32,
        2 or 3 or 9 or 17 or 18 or 19 or 20 => 8,
        4 or 5 or 10 or 16 => 16,
        7 or 11 or 13 or 14 => 64,
        15 => 128,
        21 or 22 or 23 => 4,
        _ => 0,
    };

    /// <summary>Bytes the raw encoding of <paramref name="count"/> elements takes (4-bit types pack two to a byte).</summary>
    public static long RawByteCount(int dataType, long count)
    {
        int bits = BitsPerElement(dataType);
        return bits == 0 ? -1 : checked((count * bits + 7) / 8);
    }

    public static string Name(int dataType) => dataType switch
    {
        1 => "float32", 2 => "uint8", 3 => "int8", 4 => "uint16", 5 => "int16", 6 => "int32", 7 => "int64",
        8 => "string", 9 => "bool", 10 => "float16", 11 => "float64", 12 => "uint32", 13 => "uint64",
        14 => "complex64", 15 => "complex128", 16 => "bfloat16", 17 => "float8e4m3fn", 18 => "float8e4m3fnuz",
        19 => "float8e5m2", 20 => "float8e5m2fnuz", 21 => "uint4", 22 => "int4", 23 => "float4e2m1",
        _ => $"type{dataType}",
    };
}
