int CDeepseekOpenCL_placeholder(void);
