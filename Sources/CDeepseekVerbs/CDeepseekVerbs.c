#include "CDeepseekVerbs.h"
int CDeepseekVerbs_placeholder(void) { return 0; }
