//! The unwinder's entry points for builds that abort on panic with a static
//! musl (the `rom` build): nothing ever unwinds there, so LLVM's libunwind
//! (~44 KB of the ROM) is left out and these take its place.
//!
//! - Unwinding: panic=abort raises no exception, so the landing pads that
//!   std's precompiled code keeps never run; `_Unwind_Resume` aborts should
//!   one be reached all the same. The personality routine's accessors are
//!   never called.
//! - Backtraces: `_Unwind_Backtrace` reports the end of the stack at once, so
//!   a panic message comes without a backtrace (the build has no unwind
//!   tables to walk anyway; see linker/rom-no-unwind.ld).
//!
//! Defined here, the symbols satisfy every reference before the linker looks
//! into libunwind.a, so none of its members is linked.

use core::ffi::{c_int, c_void};

/// _URC_END_OF_STACK.
const END_OF_STACK: c_int = 5;

// SAFETY (every no_mangle below): each name is an entry point of the
// unwinder's C ABI with that ABI's signature; nothing else in the binary
// defines them (libunwind.a is not pulled in once they are defined), and none
// dereferences its pointers.

#[no_mangle]
extern "C" fn _Unwind_Backtrace(_trace: *const c_void, _arg: *mut c_void) -> c_int {
    END_OF_STACK
}

#[no_mangle]
extern "C" fn _Unwind_Resume(_exception: *mut c_void) -> ! {
    std::process::abort()
}

#[no_mangle]
extern "C" fn _Unwind_GetIP(_ctx: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetIPInfo(_ctx: *mut c_void, _before: *mut c_int) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetCFA(_ctx: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_FindEnclosingFunction(_pc: *mut c_void) -> *mut c_void {
    core::ptr::null_mut()
}

#[no_mangle]
extern "C" fn _Unwind_GetLanguageSpecificData(_ctx: *mut c_void) -> *mut c_void {
    core::ptr::null_mut()
}

#[no_mangle]
extern "C" fn _Unwind_GetRegionStart(_ctx: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetDataRelBase(_ctx: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_GetTextRelBase(_ctx: *mut c_void) -> usize {
    0
}

#[no_mangle]
extern "C" fn _Unwind_SetGR(_ctx: *mut c_void, _index: c_int, _value: usize) {}

#[no_mangle]
extern "C" fn _Unwind_SetIP(_ctx: *mut c_void, _value: usize) {}
