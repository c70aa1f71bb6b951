/* Runs the arm64 machine code of kaze/_native.py (code.h, written by test_native.py from its
   bytes) and the futex syscall numbers under qemu-aarch64: freestanding, no libc. */
typedef unsigned long u64; typedef unsigned int u32;
#include "code.h"
static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long x8 __asm__("x8") = n; register long x0 __asm__("x0") = a; register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c; register long x3 __asm__("x3") = d; register long x4 __asm__("x4") = e; register long x5 __asm__("x5") = f;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
static void out(const char *s) { long n = 0; while (s[n]) n++; sys6(64, 1, (long)s, n, 0, 0, 0); }
static int failures;
static void check(int ok, const char *what) { out(ok ? "ok   " : "FAIL "); out(what); out("\n"); if (!ok) failures++; }
typedef u64 (*xchg64_t)(u64 *, u64); typedef u32 (*xchg32_t)(u32 *, u32); typedef u32 (*cas32_t)(u32 *, u32, u32);
typedef u64 (*load64_t)(u64 *); typedef u32 (*load32_t)(u32 *); typedef u64 (*spin64_t)(u64 *, u64, u64);
struct fw { u64 val, uaddr; u32 flags, res; };
void _start(void) {
  static u64 q = 5; static u32 w = 7;
  xchg64_t xchg64 = (xchg64_t)code_xchg64; xchg32_t xchg32 = (xchg32_t)code_xchg32; cas32_t cas32 = (cas32_t)code_cas32;
  load64_t load64 = (load64_t)code_load64; load32_t load32 = (load32_t)code_load32; spin64_t spin64 = (spin64_t)code_spin64;
  check(xchg64(&q, 0x1122334455667788UL) == 5 && q == 0x1122334455667788UL, "xchg64 returns the old value and stores the new");
  check(xchg32(&w, 9) == 7 && w == 9, "xchg32");
  check(cas32(&w, 9, 11) == 9 && w == 11, "cas32 swaps when the value is the expected one");
  check(cas32(&w, 9, 13) == 11 && w == 11, "cas32 leaves the word alone otherwise");
  check(load64(&q) == 0x1122334455667788UL && load32(&w) == 11, "load64, load32");
  check(spin64(&q, 1, 1000) == 0x1122334455667788UL, "spin64 returns at once when the value differs");
  check(spin64(&q, 0x1122334455667788UL, 1000) == 0x1122334455667788UL, "spin64 gives up after its rounds");
  u32 f = 0;
  check(sys6(98, (long)&f, 0 /*FUTEX_WAIT*/, 1, 0, 0, 0) == -11, "futex (98) FUTEX_WAIT on a changed word: EAGAIN");
  check(sys6(98, (long)&f, 1 /*FUTEX_WAKE*/, 0x7fffffff, 0, 0, 0) == 0, "futex (98) FUTEX_WAKE: nobody woken");
  struct fw v[2] = {{1, (u64)&f, 2, 0}, {1, (u64)&w, 2, 0}};
  long r = sys6(449, (long)v, 2, 0, 0, 1, 0);
  check(r == -11 || r == -38, "futex_waitv (449) with changed words: EAGAIN (or ENOSYS: no futex_waitv in this kernel/emulator)");
  out(r == -38 ? "note futex_waitv: ENOSYS\n" : "note futex_waitv: EAGAIN\n");
  sys6(93, failures, 0, 0, 0, 0, 0);
  for (;;) {}
}
