using System.Runtime.Intrinsics;

namespace EvoQuant.Numerics;

/// <summary>
/// Element-wise float -> int32 map whose results already lie in the destination type's range.
/// Implemented by readonly structs so the drivers are specialised per operator (no delegates).
/// </summary>
internal interface IFloatToIntOperator
{
    int Invoke(float x);
    Vector128<int> Invoke(Vector128<float> x);
    Vector256<int> Invoke(Vector256<float> x);
    Vector512<int> Invoke(Vector512<float> x);
}

/// <summary>Element-wise int32 -> float map (dequantization).</summary>
internal interface IIntToFloatOperator
{
    float Invoke(int q);
    Vector128<float> Invoke(Vector128<int> q);
    Vector256<float> Invoke(Vector256<int> q);
    Vector512<float> Invoke(Vector512<int> q);
}

/// <summary>
/// How one quantized storage type moves to and from int32 lanes: narrowing stores and widening loads
/// of exactly one int32 vector's worth of elements (never touching memory past them).
/// </summary>
internal interface IQuantStorage<T> where T : unmanaged
{
    static abstract T FromInt(int value);
    static abstract int ToInt(T value);
    static abstract void Store(Vector128<int> v, ref T destination);
    static abstract void Store(Vector256<int> v, ref T destination);
    static abstract void Store(Vector512<int> v, ref T destination);
    static abstract Vector128<int> Load128(ref T source);
    static abstract Vector256<int> Load256(ref T source);
    static abstract Vector512<int> Load512(ref T source);

    /// <summary>Stores 4 x 16 elements with non-temporal (cache-bypassing) stores; destination 64-byte
    /// aligned; only called when Avx512F is supported.</summary>
    static abstract unsafe void StoreNonTemporal(Vector512<int> a, Vector512<int> b, Vector512<int> c, Vector512<int> d, T* destination);
}
