print("deepseek")
