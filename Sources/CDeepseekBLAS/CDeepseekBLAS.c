#include "CDeepseekBLAS.h"
int CDeepseekBLAS_placeholder(void) { return 0; }
