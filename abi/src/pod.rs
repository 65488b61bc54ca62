//! Plain-old-data structs copied to and from guest memory as bytes, in safe
//! code: each field is encoded in native byte order at its C offset. Padding is
//! spelled out as explicit fields, so the encoded size equals the C `sizeof`.

/// A value with a fixed-size, native-endian byte encoding.
pub trait Pod: Sized + Copy {
    /// Encoded size in bytes; equals the C `sizeof` for the structs in this crate.
    const SIZE: usize;
    /// Writes `Self::SIZE` bytes to the start of `out`. `out` must be at least that long.
    fn encode(&self, out: &mut [u8]);
    /// Reads from the first `Self::SIZE` bytes of `buf`, which must be at least that long.
    fn decode(buf: &[u8]) -> Self;
    /// The all-zero value.
    fn zeroed() -> Self;
}

macro_rules! pod_int {
    ($($t:ty),*) => {$(
        impl Pod for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn encode(&self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_ne_bytes());
            }
            fn decode(buf: &[u8]) -> Self {
                let mut b = [0u8; core::mem::size_of::<$t>()];
                b.copy_from_slice(&buf[..Self::SIZE]);
                <$t>::from_ne_bytes(b)
            }
            fn zeroed() -> Self {
                0
            }
        }
    )*};
}
pod_int!(u8, u16, u32, u64, i8, i16, i32, i64, usize, isize);

impl<T: Pod, const N: usize> Pod for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn encode(&self, out: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.encode(&mut out[i * T::SIZE..]);
        }
    }
    fn decode(buf: &[u8]) -> Self {
        core::array::from_fn(|i| T::decode(&buf[i * T::SIZE..]))
    }
    fn zeroed() -> Self {
        core::array::from_fn(|_| T::zeroed())
    }
}

/// Declares a `#[repr(C)]`-shaped struct with a [`Pod`] encoding.
#[macro_export]
macro_rules! pod_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }

        impl $crate::pod::Pod for $name {
            const SIZE: usize = 0 $(+ <$t as $crate::pod::Pod>::SIZE)*;
            #[allow(unused_assignments)]
            fn encode(&self, out: &mut [u8]) {
                let mut off = 0;
                $( $crate::pod::Pod::encode(&self.$f, &mut out[off..]);
                   off += <$t as $crate::pod::Pod>::SIZE; )*
            }
            #[allow(unused_assignments)]
            fn decode(buf: &[u8]) -> Self {
                let mut off = 0;
                $( let $f = <$t as $crate::pod::Pod>::decode(&buf[off..]);
                   off += <$t as $crate::pod::Pod>::SIZE; )*
                Self { $($f,)* }
            }
            fn zeroed() -> Self {
                Self { $($f: <$t as $crate::pod::Pod>::zeroed(),)* }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                <Self as $crate::pod::Pod>::zeroed()
            }
        }
    };
}
