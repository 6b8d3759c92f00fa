namespace EvoQuant.Quantization;

/// <summary>When activation parameters are fixed: offline from calibration ranges (static) or at run time (dynamic);
/// or not at all: weight-only quantization stores block-quantized weights and keeps activations float
/// (<see cref="QuantizationOptions.WeightOnly"/>).</summary>
public enum QuantMode
{
    Static,
    Dynamic,
    WeightOnly,
}

/// <summary>How a quantized model is written: QuantizeLinear/DequantizeLinear pairs around float
/// operators (QDQ), or integer operators such as QLinearConv (QOperator).</summary>
public enum QuantFormat
{
    QDQ,
    QOperator,
}
