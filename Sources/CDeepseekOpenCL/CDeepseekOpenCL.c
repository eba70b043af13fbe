#include "CDeepseekOpenCL.h"
int CDeepseekOpenCL_placeholder(void) { return 0; }
