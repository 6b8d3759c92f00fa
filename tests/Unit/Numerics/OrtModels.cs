using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Tests.Numerics;

/// <summary>
/// One-node QuantizeLinear / DequantizeLinear models built in code, run through ONNX Runtime as a
/// second reference (also linked into the benchmarks).
/// </summary>
public static class OrtModels
{
    public const int Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6;

    /// <summary>QuantizeLinear(x[n], scale, zero_point) -> y, with per-tensor (axis null) or per-axis parameters.</summary>
    public static byte[] Quantize(int opset, int qType, long[] shape, float[] scales, long[] zeroPoints, int? axis = null)
        => Build("QuantizeLinear", opset, Float, qType, shape, scales, zeroPoints, qType, axis);

    /// <summary>DequantizeLinear(x[n], scale, zero_point) -> y float.</summary>
    public static byte[] Dequantize(int opset, int qType, long[] shape, float[] scales, long[] zeroPoints, int? axis = null)
        => Build("DequantizeLinear", opset, qType, Float, shape, scales, zeroPoints, qType, axis);

    private static byte[] Build(string op, int opset, int inType, int outType, long[] shape, float[] scales, long[] zeroPoints, int zpType, int? axis)
    {
        bool perAxis = axis.HasValue;
        var scale = new TensorProto { Name = "scale", DataType = Float };
        if (perAxis) scale.Dims.Add(scales.Length);
        scale.FloatData.Add(scales);

        var zp = new TensorProto { Name = "zero_point", DataType = zpType };
        if (perAxis) zp.Dims.Add(zeroPoints.Length);
        zp.RawData = ByteString.CopyFrom(ZeroPointBytes(zpType, zeroPoints));

        var node = new NodeProto { OpType = op, Name = op };
        node.Input.Add(new[] { "x", "scale", "zero_point" });
        node.Output.Add("y");
        if (perAxis) node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis!.Value });

        var graph = new GraphProto { Name = "g" };
        graph.Node.Add(node);
        graph.Initializer.Add(scale);
        graph.Initializer.Add(zp);
        graph.Input.Add(ValueInfo("x", inType, shape));
        graph.Output.Add(ValueInfo("y", outType, shape));

        var model = new ModelProto { IrVersion = opset >= 21 ? 10 : 7, Graph = graph, ProducerName = "EvoQuant.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model.ToByteArray();
    }

    private static byte[] ZeroPointBytes(int type, long[] values)
    {
        var bytes = new List<byte>();
        foreach (long v in values)
        {
            switch (type)
            {
                case UInt8: bytes.Add((byte)v); break;
                case Int8: bytes.Add(unchecked((byte)(sbyte)v)); break;
                case UInt16: bytes.AddRange(BitConverter.GetBytes((ushort)v)); break;
                case Int16: bytes.AddRange(BitConverter.GetBytes((short)v)); break;
                case Int32: bytes.AddRange(BitConverter.GetBytes((int)v)); break;
                default: throw new ArgumentOutOfRangeException(nameof(type));
            }
        }
        return bytes.ToArray();
    }

    private static ValueInfoProto ValueInfo(string name, int elemType, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (long d in shape) tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = tensorShape } },
        };
    }
}
