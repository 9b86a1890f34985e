//go:build windows

package main

/*
#include <windows.h>

// Hybrid laptops (NVIDIA Optimus, AMD PowerXpress/Switchable Graphics) give a
// program the integrated GPU unless its executable exports these two
// variables with a nonzero value: then OpenGL contexts, and with them the
// GL backend's compute, are made on the discrete GPU. The drivers read them
// from the .exe's export table (a DLL's do not count), so they live in
// package main. make windows checks that both executables export them.
__declspec(dllexport) DWORD NvOptimusEnablement = 1;
__declspec(dllexport) int AmdPowerXpressRequestHighPerformance = 1;

// guiSubsystem reports whether this executable was linked for the GUI
// subsystem (-H windowsgui: llamadesk-app.exe), read from its own PE header.
static int guiSubsystem(void) {
	const BYTE *base = (const BYTE *)GetModuleHandleW(NULL);
	const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
	const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
	return nt->OptionalHeader.Subsystem == IMAGE_SUBSYSTEM_WINDOWS_GUI;
}

static void showError(const wchar_t *text) {
	MessageBoxW(NULL, text, L"Llamadesk", MB_OK | MB_ICONERROR);
}
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/windows"

	_ "github.com/llamadesk/llamadesk/internal/winres" // the icon (make windows)
)

// windowOnly reports whether this is the window's executable
// (llamadesk-app.exe, linked for the GUI subsystem): it has no console, so
// it cannot run commands and shows its errors in a message box.
func windowOnly() bool { return C.guiSubsystem() != 0 }

// showError shows an error in a message box.
func showError(text string) {
	p, err := windows.UTF16PtrFromString(text)
	if err != nil { // a NUL in the text
		p = windows.StringToUTF16Ptr("Llamadesk could not start.")
	}
	C.showError((*C.wchar_t)(unsafe.Pointer(p)))
}
