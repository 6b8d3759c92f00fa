namespace EvoQuant.Numerics;

/// <summary>Integer element types a float tensor can be quantized to.</summary>
public enum QuantType
{
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int4,
    UInt4,
    /// <summary>Used for Conv/Gemm/MatMul biases (scale = input scale * weight scale, zero point 0).</summary>
    Int32,
}

/// <summary>
/// Ranges and ONNX type codes of <see cref="QuantType"/>. The ranges follow ONNX Runtime's quantization
/// tool (<c>quant_utils.get_qmin_qmax_for_qType</c>): <c>reduceRange</c> wins over <c>symmetric</c>;
/// symmetric narrows only the 8- and 16-bit types (int8 [-127,127], uint8 [0,254], int16 [-32767,32767],
/// uint16 [0,65534]); 4-bit types keep their full range when symmetric.
/// </summary>
public static class QuantTypeInfo
{
    /// <summary>Smallest quantized value used when computing parameters for this type.</summary>
    public static int QMin(this QuantType t, bool reduceRange = false, bool symmetric = false) => Range(t, reduceRange, symmetric).Min;

    /// <summary>Largest quantized value used when computing parameters for this type.</summary>
    public static int QMax(this QuantType t, bool reduceRange = false, bool symmetric = false) => Range(t, reduceRange, symmetric).Max;

    /// <summary>The full range the type can hold (what QuantizeLinear saturates to).</summary>
    public static (int Min, int Max) StorageRange(this QuantType t) => Range(t, false, false);

    private static (int Min, int Max) Range(QuantType t, bool reduceRange, bool symmetric)
    {
        if (reduceRange)
        {
            // 7-bit ranges for CPUs without VNNI (u8*s8 pairs overflow int16 in VPMADDUBSW).
            return t switch
            {
                QuantType.Int8 => (-64, 64),
                QuantType.UInt8 => (0, 127),
                QuantType.Int16 => (-16384, 16384),
                QuantType.UInt16 => (0, 32767),
                QuantType.Int4 => (-4, 3),
                QuantType.UInt4 => (0, 7),
                // The reference tool has no int32 quantization; halve it like the others.
                QuantType.Int32 => (-(1 << 30), 1 << 30),
                _ => throw Unknown(t),
            };
        }
        if (symmetric)
        {
            switch (t)
            {
                case QuantType.Int8: return (-127, 127);
                case QuantType.UInt8: return (0, 254);
                case QuantType.Int16: return (-32767, 32767);
                case QuantType.UInt16: return (0, 65534);
                case QuantType.Int32: return (-int.MaxValue, int.MaxValue);
                // Int4/UInt4 have no symmetric table in the reference tool: full range.
            }
        }
        return t switch
        {
            QuantType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
            QuantType.UInt8 => (byte.MinValue, byte.MaxValue),
            QuantType.Int16 => (short.MinValue, short.MaxValue),
            QuantType.UInt16 => (ushort.MinValue, ushort.MaxValue),
            QuantType.Int4 => (-8, 7),
            QuantType.UInt4 => (0, 15),
            QuantType.Int32 => (int.MinValue, int.MaxValue),
            _ => throw Unknown(t),
        };
    }

    /// <summary>ONNX <c>TensorProto.DataType</c> code.</summary>
    public static int OnnxDataType(this QuantType t) => t switch
    {
        QuantType.UInt8 => 2,
        QuantType.Int8 => 3,
        QuantType.UInt16 => 4,
        QuantType.Int16 => 5,
        QuantType.Int32 => 6,
        QuantType.UInt4 => 21,
        QuantType.Int4 => 22,
        _ => throw Unknown(t),
    };

    /// <summary>The <see cref="QuantType"/> of an ONNX <c>TensorProto.DataType</c> code.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The code is not an integer type we quantize to.</exception>
    public static QuantType FromOnnxDataType(int dataType) => dataType switch
    {
        2 => QuantType.UInt8,
        3 => QuantType.Int8,
        4 => QuantType.UInt16,
        5 => QuantType.Int16,
        6 => QuantType.Int32,
        21 => QuantType.UInt4,
        22 => QuantType.Int4,
        _ => throw new ArgumentOutOfRangeException(nameof(dataType), dataType, "Not a supported quantized ONNX data type."),
    };

    /// <summary>Try form of <see cref="FromOnnxDataType"/>.</summary>
    public static bool TryFromOnnxDataType(int dataType, out QuantType type)
    {
        switch (dataType)
        {
            case 2 or 3 or 4 or 5 or 6 or 21 or 22:
                type = FromOnnxDataType(dataType);
                return true;
            default:
                type = default;
                return false;
        }
    }

    public static bool IsSigned(this QuantType t) => t switch
    {
        QuantType.Int8 or QuantType.Int16 or QuantType.Int4 or QuantType.Int32 => true,
        QuantType.UInt8 or QuantType.UInt16 or QuantType.UInt4 => false,
        _ => throw Unknown(t),
    };

    public static int BitWidth(this QuantType t) => t switch
    {
        QuantType.Int4 or QuantType.UInt4 => 4,
        QuantType.Int8 or QuantType.UInt8 => 8,
        QuantType.Int16 or QuantType.UInt16 => 16,
        QuantType.Int32 => 32,
        _ => throw Unknown(t),
    };

    private static ArgumentOutOfRangeException Unknown(QuantType t) =>
        new(nameof(t), t, "Unknown quantization type.");
}
