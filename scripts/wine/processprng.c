/* bcryptprimitives.dll for Wine 8.0, which lacks it: Rust's std (1.78 on)
 * takes its random bytes from ProcessPrng, and a program importing a DLL
 * that does not exist stops before main (status 0xC0000135). This one
 * function, over RtlGenRandom (advapi32's SystemFunction036), is all std
 * needs. Built by scripts/wine-test.sh with the mingw-w64 compiler and put
 * on WINEPATH; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
