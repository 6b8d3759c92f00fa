namespace EvoQuant.Calibration;

/// <summary>One method's proposal for a tensor under <see cref="CalibrationMethod.Auto"/>: its range and the
/// mean squared error that quantizing the tensor's calibration values to it causes (<see cref="RangeError"/>).</summary>
public sealed record MethodCandidate(CalibrationMethod Method, float RangeMin, float RangeMax, double Mse)
{
    public override string ToString() => $"{Method} [{RangeMin:G5}, {RangeMax:G5}] MSE {Mse:G4}";
}
