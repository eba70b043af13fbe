#include "CDeepseekLinux.h"
int CDeepseekLinux_placeholder(void) { return 0; }
