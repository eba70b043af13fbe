int CDeepseekLinux_placeholder(void);
