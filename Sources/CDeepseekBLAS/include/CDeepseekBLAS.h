int CDeepseekBLAS_placeholder(void);
